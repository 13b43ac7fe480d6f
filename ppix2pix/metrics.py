"""Image quality metrics between generated and target images (the validation and evaluation protocol).

All take images in the model's range ([-1, 1], C x H x W or N x C x H x W). L1 is the mean absolute error on that
[-1, 1] scale (the training L1 term divided by lambda); PSNR and SSIM are computed on images quantized to 8 bits
(data range 255), SSIM with scikit-image's defaults (7x7 window) over the colour channels. PSNR of identical
images is capped at 100 dB so averages stay finite.
"""
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .data.image_io import from_model, to_uint8

METRIC_NAMES = ("l1", "psnr", "ssim")
HIGHER_IS_BETTER = {"l1": False, "psnr": True, "ssim": True}
PSNR_CAP = 100.0


def image_metrics(output, target):
    """{'l1', 'psnr', 'ssim'} for one C x H x W image pair in [-1, 1]."""
    output, target = np.asarray(output, np.float32), np.asarray(target, np.float32)
    if output.shape != target.shape:
        raise ValueError(f"output shape {output.shape} and target shape {target.shape} differ")
    out8, tgt8 = to_uint8(from_model(output)), to_uint8(from_model(target))
    psnr = peak_signal_noise_ratio(tgt8, out8, data_range=255) if np.any(out8 != tgt8) else PSNR_CAP
    window = min(7, *out8.shape[:2])
    window -= 1 - window % 2  # odd, at most the image size
    ssim = structural_similarity(tgt8, out8, data_range=255, channel_axis=2, win_size=window)
    return {"l1": float(np.abs(output - target).mean()), "psnr": float(psnr), "ssim": float(ssim)}


class MetricAverager:
    """Mean of per-image metrics over a dataset (PSNR averaged per image, as is customary)."""

    def __init__(self):
        self.sums, self.count = {name: 0.0 for name in METRIC_NAMES}, 0

    def add_batch(self, outputs, targets):
        """Add an N x C x H x W batch."""
        for output, target in zip(np.asarray(outputs), np.asarray(targets)):
            for name, value in image_metrics(output, target).items():
                self.sums[name] += value
            self.count += 1

    def result(self):
        """{'l1', 'psnr', 'ssim', 'count'}."""
        if not self.count:
            raise ValueError("no images were evaluated")
        return dict({name: total / self.count for name, total in self.sums.items()}, count=self.count)
