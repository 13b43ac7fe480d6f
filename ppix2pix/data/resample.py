"""Image resizing with Pillow's filters, the resampling of the reference implementation.

The reference resizes with Pillow's bicubic filter (a = -0.5), whose kernel widens by the scale factor when it
shrinks, so a smaller image is low-passed rather than aliased; OpenCV's ``INTER_CUBIC`` (a = -0.75) never widens it
(DESIGN.md section 8). 8-bit grayscale and RGB images go through Pillow's 8-bit path, exactly as the reference's
``Image.resize`` does (rounded and clipped to 0..255). Other images (16-bit, float, other channel counts) are resized
channel by channel as 32-bit float images with the same filter.
"""
import numpy as np
from PIL import Image

FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
           "nearest": Image.Resampling.NEAREST, "area": Image.Resampling.BOX, "lanczos": Image.Resampling.LANCZOS}
EIGHT_BIT_MODES = {1: "L", 3: "RGB"}


def check_filter(interpolation):
    """Raise ValueError unless ``interpolation`` names a filter of :data:`FILTERS`."""
    if interpolation not in FILTERS:
        raise ValueError(f"interpolation must be one of {', '.join(FILTERS)}, got {interpolation!r}")


def resize(image, height, width, interpolation="bicubic"):
    """Resize an H x W x C image (uint8, uint16 or float) to ``height`` x ``width`` with a filter of :data:`FILTERS`.

    The result keeps the dtype; integer images are rounded and clipped to their range, float images are not clipped
    (bicubic and lanczos overshoot near edges).
    """
    check_filter(interpolation)
    resample, channels = FILTERS[interpolation], image.shape[2]
    if image.dtype == np.uint8 and channels in EIGHT_BIT_MODES:
        pillow = Image.fromarray(np.ascontiguousarray(image if channels == 3 else image[:, :, 0]),
                                 EIGHT_BIT_MODES[channels])
        return np.asarray(pillow.resize((width, height), resample)).reshape(height, width, channels)
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype=np.float32), "F")
                         .resize((width, height), resample)) for c in range(channels)]
    resized = np.stack(planes, axis=2)
    if np.issubdtype(image.dtype, np.integer):
        limits = np.iinfo(image.dtype)
        return np.clip(np.rint(resized), limits.min, limits.max).astype(image.dtype)
    return resized.astype(image.dtype, copy=False)
