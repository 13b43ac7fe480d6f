"""Lab colour space for colorization: the network reads L and predicts ab, both scaled to about [-1, 1].

Scaling as in the reference colorization dataset: L / 50 - 1 and ab / 110. :func:`lab_to_rgb` is the exact inverse
of :func:`rgb_to_lab` (up to scikit-image's gamut clipping), so saved results are faithful.
"""
import numpy as np
from skimage import color

from .image_io import from_model


def rgb_to_lab(image01):
    """H x W x 3 RGB in [0, 1] -> (L: 1 x H x W, ab: 2 x H x W) float32 in the model's range."""
    lab = color.rgb2lab(np.clip(image01, 0.0, 1.0)).astype(np.float32)
    lightness = lab[:, :, 0] / 50.0 - 1.0
    ab = lab[:, :, 1:] / 110.0
    return lightness[None].astype(np.float32), np.ascontiguousarray(ab.transpose(2, 0, 1), dtype=np.float32)


def lab_to_rgb(lightness, ab):
    """(L: 1 x H x W, ab: 2 x H x W) in the model's range -> H x W x 3 RGB float32 in [0, 1]."""
    lab = np.concatenate([(np.asarray(lightness, np.float32) + 1.0) * 50.0,
                          np.asarray(ab, np.float32) * 110.0], axis=0).transpose(1, 2, 0)
    return np.clip(color.lab2rgb(lab.astype(np.float64)), 0.0, 1.0).astype(np.float32)


def side_to_image(side, lightness=None):
    """A network side (C x H x W in the model's range: an output, an input or a target) as an H x W x C float32
    image in [0, 1]. ``lightness``: the L input (1 x H x W) of a Lab colorization model, None for RGB models; a
    2-channel side is then ab, joined to it and converted to RGB. Every other side is scaled from [-1, 1]."""
    if lightness is not None and side.shape[0] == 2:
        return lab_to_rgb(lightness[:1], side)
    return from_model(side)
