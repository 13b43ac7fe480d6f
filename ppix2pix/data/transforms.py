"""Paired preprocessing: one random draw per pair, applied to A and B alike.

Modes (the reference's ``--preprocess``): ``resize_and_crop`` (resize to load_size, random crop_size crop),
``crop`` (random crop from the original), ``scale_width`` (width to load_size, keep aspect),
``scale_width_and_crop`` (then random crop), ``none`` (keep the size). Sizes that the generator cannot take are
rounded to its multiple at the end. Resizing uses Pillow's filters (:mod:`.resample`), as the reference does; 8-bit
images are resized as 8-bit images, like the reference's. At test time nothing is random: ``resize_and_crop`` resizes straight to crop_size
(the whole image), the crop modes take the centre crop, and there is no flip.
"""
import numpy as np

from .resample import check_filter, resize


def round_to_multiple(size, multiple, minimum=1):
    """The multiple of ``multiple`` nearest to ``size``, and at least the smallest multiple >= ``minimum``: the size a
    side is resized to so that the generator takes it (training rounds crops, the translator whole images)."""
    return max(-(-minimum // multiple) * multiple, int(round(size / multiple)) * multiple)


class PairedTransform:
    """Geometry for one pair, drawn once: resize target, crop box and flip, applied with :meth:`apply`."""

    def __init__(self, options, size_multiple, train):
        self.mode = options["preprocess"]
        self.load_size, self.crop_size = options["load_size"], options["crop_size"]
        self.flip = train and not options["no_flip"]
        check_filter(options["interpolation"])  # at construction, not at the first image
        self.interpolation = options["interpolation"]
        self.multiple = size_multiple
        self.train = train
        if "crop" in self.mode and self.crop_size % size_multiple:
            raise ValueError(f"crop_size {self.crop_size} is not a multiple of {size_multiple}, which the generator "
                             f"needs; use a crop_size like {round_to_multiple(self.crop_size, size_multiple)}")
        if self.mode in ("resize_and_crop", "scale_width_and_crop") and self.load_size < self.crop_size:
            raise ValueError(f"load_size {self.load_size} is smaller than crop_size {self.crop_size}, so the "
                             f"{self.mode} crop cannot fit; set load_size >= crop_size")

    def _resized_shape(self, height, width):
        """(height, width) after the resize step, before cropping."""
        if self.mode == "resize_and_crop":
            side = self.load_size if self.train else self.crop_size
            return side, side
        if self.mode.startswith("scale_width"):
            target = self.load_size
            return max(int(round(target * height / width)), self.crop_size if "crop" in self.mode else 1), target
        return height, width

    def draw(self, rng, height, width):
        """Draw the geometry for a pair of this size: {'resize': (h, w), 'crop': (top, left, size) or None, 'flip'}."""
        resized = self._resized_shape(height, width)
        crop = None
        if "crop" in self.mode and (self.train or self.mode != "resize_and_crop"):
            size = self.crop_size
            if resized[0] < size or resized[1] < size:
                raise ValueError(f"image of {height}x{width} is smaller than crop_size {size} after resizing to "
                                 f"{resized[0]}x{resized[1]}; lower crop_size or raise load_size")
            if self.train:
                top, left = int(rng.integers(0, resized[0] - size + 1)), int(rng.integers(0, resized[1] - size + 1))
            else:
                top, left = (resized[0] - size) // 2, (resized[1] - size) // 2
            crop = (top, left, size)
        flip = bool(self.flip and rng.random() < 0.5)
        return {"resize": resized, "crop": crop, "flip": flip}

    def apply(self, image, geometry):
        """Apply drawn geometry to an H x W x C image (float or integer)."""
        height, width = geometry["resize"]
        if (height, width) != image.shape[:2]:
            image = _resize(image, height, width, self.interpolation)
        if geometry["crop"] is not None:
            top, left, size = geometry["crop"]
            image = image[top:top + size, left:left + size]
        out_h, out_w = (round_to_multiple(side, self.multiple) for side in image.shape[:2])
        if (out_h, out_w) != image.shape[:2]:
            image = _resize(image, out_h, out_w, self.interpolation)
        if geometry["flip"]:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)


def _resize(image, height, width, interpolation):
    resized = resize(image, height, width, interpolation)
    if np.issubdtype(image.dtype, np.floating):
        resized = np.clip(resized, 0.0, 1.0)  # bicubic overshoot
    return resized
