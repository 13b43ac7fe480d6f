"""Image quality metrics between generated and target images (the validation and evaluation protocol).

All take images in the model's range ([-1, 1], C x H x W or N x C x H x W). L1 is the mean absolute error on that
[-1, 1] scale (the training L1 term divided by lambda); PSNR and SSIM are computed on images quantized to 8 bits
(data range 255), SSIM with scikit-image's defaults (7x7 window) over the colour channels. PSNR of identical
images is capped at 100 dB so averages stay finite.

For generated label maps (photo -> labels), :class:`SegmentationScores` maps colours to classes with a
:class:`Palette` (Cityscapes and CMP Facades built in) and reports the paper's FCN-score metrics: per-pixel accuracy, per-class
accuracy and class IoU.
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
        """Add an N x C x H x W batch; returns the N per-image ``{'l1', 'psnr', 'ssim'}``."""
        scores = []
        for output, target in zip(np.asarray(outputs), np.asarray(targets)):
            scores.append(image_metrics(output, target))
            for name, value in scores[-1].items():
                self.sums[name] += value
            self.count += 1
        return scores

    def result(self):
        """{'l1', 'psnr', 'ssim', 'count'}."""
        if not self.count:
            raise ValueError("no images were evaluated")
        return dict({name: total / self.count for name, total in self.sums.items()}, count=self.count)


# --- Label maps (photo -> labels): colours -> classes -> FCN-score style metrics -----------------------------------

# Cityscapes' 19 evaluation classes (train ids 0..18) and their colours, from the official cityscapesScripts labels.
CITYSCAPES_CLASSES = (
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)), ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)), ("pole", (153, 153, 153)), ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)), ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)), ("person", (220, 20, 60)), ("rider", (255, 0, 0)), ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)), ("bus", (0, 60, 100)), ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)
# Colours of the labels Cityscapes ignores in evaluation (train id 255): unlabeled/ego vehicle/rectification border/
# out of roi/static, dynamic, ground, parking, rail track, guard rail, bridge, tunnel, caravan, trailer.
CITYSCAPES_VOID_COLORS = ((0, 0, 0), (111, 74, 0), (81, 0, 81), (250, 170, 160), (230, 150, 140), (180, 165, 180),
                          (150, 100, 100), (150, 120, 90), (0, 0, 90), (0, 0, 110))


class Palette:
    """Class names with their colours, plus 'void' colours that mark pixels to ignore.

    :meth:`labels` maps every pixel to its nearest palette colour (Euclidean in RGB), which undoes JPEG noise and
    resampling blur; pixels nearest to a void colour get the label ``len(names)`` (void).
    """

    def __init__(self, classes, void_colors=()):
        if not classes:
            raise ValueError("a palette needs at least one class")
        self.names = [str(name) for name, _ in classes]
        colors = [color for _, color in classes] + list(void_colors)
        if not all(isinstance(c, (list, tuple)) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255
                                                                         for v in c) for c in colors):
            raise ValueError(f"palette colours must be [r, g, b] triples of integers 0..255, got {colors}")
        self.colors = np.asarray(colors, np.int64)
        self.void = len(self.names)
        self.color_labels = np.concatenate([np.arange(self.void), np.full(len(void_colors), self.void)])

    def labels(self, image):
        """H x W x 3 uint8 RGB -> H x W int64 class indices (``self.void`` for void pixels)."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"label maps must be H x W x 3 RGB images, got shape {image.shape}")
        packed = (image[..., 0].astype(np.int64) << 16) | (image[..., 1].astype(np.int64) << 8) | image[..., 2]
        unique, inverse = np.unique(packed.ravel(), return_inverse=True)
        rgb = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=1)
        distances = ((rgb[:, None, :] - self.colors[None, :, :]) ** 2).sum(axis=2)
        return self.color_labels[distances.argmin(axis=1)][inverse].reshape(image.shape[:2])


# The 12 label colours of the pix2pix release of CMP Facades, in the order of the jet colour map they were drawn
# from. Measured, not published: the most frequent exact colour of each cluster when the label halves of the 400
# training pairs are assigned to matplotlib's jet at k / 11 (k = 0..11), iterated to a fixed point.
FACADES_COLORS = ((7, 8, 161), (0, 0, 222), (0, 48, 255), (0, 128, 255), (1, 207, 255), (112, 254, 142),
                  (192, 255, 63), (255, 240, 1), (255, 159, 0), (255, 80, 0), (253, 1, 0), (174, 0, 1))


def facades_palette():
    """The CMP Facades label palette (12 classes named ``label_1`` .. ``label_12`` in colour-map order, no void)."""
    return Palette([(f"label_{index + 1}", color) for index, color in enumerate(FACADES_COLORS)])


def cityscapes_palette():
    """The Cityscapes palette: 19 evaluation classes, every ignored label's colour as void."""
    return Palette(CITYSCAPES_CLASSES, CITYSCAPES_VOID_COLORS)


def load_palette(path):
    """Read a palette file (YAML or JSON): ``classes: {name: [r, g, b], ...}`` and optional ``void: [[r, g, b], ...]``.

    Class order is file order.
    """
    import yaml
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except OSError as error:
        raise ValueError(f"cannot read palette file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"palette file {path} is not valid YAML/JSON: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("classes"), dict) or not raw["classes"]:
        raise ValueError(f"palette file {path} needs a 'classes' mapping of name: [r, g, b] "
                         f"(and optionally 'void': a list of [r, g, b])")
    try:
        return Palette(list(raw["classes"].items()), raw.get("void") or ())
    except (ValueError, TypeError) as error:
        raise ValueError(f"palette file {path}: {error}") from None


BUILT_IN_PALETTES = {"facades": facades_palette, "cityscapes": cityscapes_palette}


def named_palette(spec):
    """A built-in palette by name (:data:`BUILT_IN_PALETTES`) or a palette file (:func:`load_palette`)."""
    if spec in BUILT_IN_PALETTES:
        return BUILT_IN_PALETTES[spec]()
    return load_palette(spec)


class SegmentationScores:
    """Confusion matrix over a dataset and the FCN-score metrics of the pix2pix paper.

    Rows are ground-truth classes, columns predicted classes plus a last column for predictions nearest to a void
    colour. Ground-truth void pixels are ignored; predicted void pixels count as misses. Metrics over the whole
    dataset: per-pixel accuracy = correct / counted pixels; per-class accuracy = mean over classes present in the
    ground truth of (correct_c / ground-truth_c); class IoU = mean over classes present in the ground truth or the
    prediction of TP_c / (ground-truth_c + predicted_c - TP_c).
    """

    def __init__(self, palette):
        self.palette = palette
        classes = len(palette.names)
        self.confusion = np.zeros((classes, classes + 1), np.int64)

    def add(self, output, target):
        """Add one pair of H x W x 3 uint8 RGB label images (generated, ground truth)."""
        if output.shape != target.shape:
            raise ValueError(f"output shape {output.shape} and target shape {target.shape} differ")
        predicted, truth = self.palette.labels(output).ravel(), self.palette.labels(target).ravel()
        counted = truth != self.palette.void
        classes = self.confusion.shape[0]
        self.confusion += np.bincount(truth[counted] * (classes + 1) + predicted[counted],
                                      minlength=self.confusion.size).reshape(self.confusion.shape)

    def result(self):
        """{'pixel_acc', 'class_acc', 'class_iou', 'per_class': {name: {'acc', 'iou', 'pixels'}}, 'pixels'}."""
        total = int(self.confusion.sum())
        if not total:
            raise ValueError("no labelled ground-truth pixels were evaluated (every target pixel is void)")
        hits = np.diag(self.confusion[:, :-1]).astype(np.float64)
        truth = self.confusion.sum(axis=1).astype(np.float64)
        predicted = self.confusion[:, :-1].sum(axis=0).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            accuracy = np.where(truth > 0, hits / truth, np.nan)
            union = truth + predicted - hits
            iou = np.where(union > 0, hits / union, np.nan)
        per_class = {name: {"acc": _finite_or_none(a), "iou": _finite_or_none(i), "pixels": int(n)}
                     for name, a, i, n in zip(self.palette.names, accuracy, iou, truth)}
        return {"pixel_acc": float(hits.sum() / total), "class_acc": float(np.nanmean(accuracy)),
                "class_iou": float(np.nanmean(iou)), "pixels": total, "per_class": per_class}


def _finite_or_none(value):
    return None if np.isnan(value) else float(value)


def seam_ratio(image, rows=(), columns=()):
    """How much tile borders show in an H x W (x C) image: the mean absolute step between the pixels on either side
    of the given borders (row ``r``: between rows ``r - 1`` and ``r``; columns alike) over the mean absolute step
    between all other neighbouring pixels. About 1 when the borders look like the rest of the image; above 1 when
    seams show."""
    image = np.asarray(image, np.float32)
    image = image if image.ndim == 3 else image[:, :, None]
    steps = {0: np.abs(np.diff(image, axis=0)), 1: np.abs(np.diff(image, axis=1))}
    border_sum = border_count = 0.0
    for axis, positions in ((0, rows), (1, columns)):
        chosen = np.take(steps[axis], [p - 1 for p in positions], axis=axis)
        border_sum, border_count = border_sum + chosen.sum(), border_count + chosen.size
    other_sum = sum(step.sum() for step in steps.values()) - border_sum
    other_count = sum(step.size for step in steps.values()) - border_count
    if not border_count or not other_sum:
        raise ValueError("seam_ratio needs at least one border and some variation elsewhere")
    return float((border_sum / border_count) / (other_sum / other_count))
