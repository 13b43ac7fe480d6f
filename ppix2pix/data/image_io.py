"""Reading and writing images, with errors that name the file, and the conversions to/from the model's range.

Images are handled as H x W x C numpy arrays in RGB (or single-channel) order. The networks see C x H x W float32
in [-1, 1]; 8-bit and 16-bit files are both scaled by their type's maximum.
"""
import os

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file."""


def is_image_file(path):
    """True when ``path`` has an image extension ppix2pix reads."""
    return path.lower().endswith(IMAGE_EXTENSIONS)


def read_image(path):
    """Decode an image file to H x W x C (C = 1, 3) uint8 or uint16 RGB; alpha is dropped.

    Raises :class:`ImageError` for missing, empty, undecodable or truncated (JPEG without end marker) files.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageError(f"cannot read image {path}: {error.strerror}") from None
    if not data:
        raise ImageError(f"image {path} is an empty file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError(f"image {path} is corrupt or not an image format OpenCV can decode")
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-1024:]:
        raise ImageError(f"image {path} is a truncated JPEG (no end-of-image marker); re-export or remove it")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"image {path} has pixel type {image.dtype}; ppix2pix reads 8-bit and 16-bit images")
    if image.ndim == 2:
        return image[:, :, None]
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1]) if image.shape[2] == 3 else image[:, :, :1]


def to_unit_float(image):
    """uint8 / uint16 / float image -> float32 in [0, 1]."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / 65535.0
    return image.astype(np.float32)


def to_channels(image, channels):
    """Convert an H x W x C image to 1 (grayscale, ITU-R 601 luma) or 3 channels."""
    have = image.shape[2]
    if have == channels:
        return image
    if channels == 1:
        weights = np.array([0.299, 0.587, 0.114], np.float32)
        return (image.astype(np.float32) @ weights)[:, :, None].astype(image.dtype)
    if channels == 3 and have == 1:
        return np.repeat(image, 3, axis=2)
    raise ImageError(f"cannot convert a {have}-channel image to {channels} channels")


def to_model(image01):
    """H x W x C float in [0, 1] -> C x H x W float32 in [-1, 1]."""
    return np.ascontiguousarray(image01.transpose(2, 0, 1) * 2.0 - 1.0, dtype=np.float32)


def from_model(array):
    """C x H x W in [-1, 1] (numpy or tensor) -> H x W x C float32 in [0, 1], clipped."""
    array = np.asarray(array, dtype=np.float32)
    return np.clip((array.transpose(1, 2, 0) + 1.0) / 2.0, 0.0, 1.0)


def to_uint8(image01):
    """float image in [0, 1] -> uint8 (rounded)."""
    return (np.clip(image01, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_image(path, image):
    """Write an H x W x C RGB (or 1-channel) image, float in [0, 1] or uint8/uint16, creating folders."""
    if image.dtype not in (np.uint8, np.uint16):
        image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, np.ascontiguousarray(image)):
        raise ImageError(f"cannot write image {path} (unknown extension or unwritable folder)")
