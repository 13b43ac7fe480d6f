"""Reading and writing images, with errors that name the file, and the conversions to/from the model's range.

Images are handled as H x W x C numpy arrays in RGB (or single-channel) order. The networks see C x H x W float32
in [-1, 1]; 8-bit and 16-bit files are both scaled by their type's maximum.
"""
import io
import os
import warnings

import cv2
import numpy as np
from PIL import Image

from ..errors import ImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
JPEG_SIGNATURE, PNG_SIGNATURE = b"\xff\xd8", b"\x89PNG\r\n\x1a\n"
# (file signature, end marker) of the formats whose end can be checked; the marker is looked for near the end.
END_MARKERS = ((JPEG_SIGNATURE, b"\xff\xd9"), (PNG_SIGNATURE, b"IEND"))
END_MARKER_WINDOW = 1024
# How the files of IMAGE_EXTENSIONS start: JPEG, PNG, BMP, TIFF (both byte orders), WebP (RIFF), PGM/PPM.
IMAGE_SIGNATURES = (JPEG_SIGNATURE, PNG_SIGNATURE, b"BM", b"II*\x00", b"MM\x00*", b"RIFF", b"P2", b"P3", b"P5", b"P6")


def is_image_file(path):
    """True when ``path`` has an image extension ppix2pix reads."""
    return path.lower().endswith(IMAGE_EXTENSIONS)


def end_marker_missing(data):
    """True when JPEG or PNG bytes have no end marker in their last KB: the file was cut short, or (camera motion
    photos, some editors) more data follows the image."""
    return any(data.startswith(signature) and marker not in data[-END_MARKER_WINDOW:]
               for signature, marker in END_MARKERS)


def ends_early(data):
    """True when JPEG or PNG bytes stop before the image's end marker (a cut or zero-filled download).

    Data appended after a complete image (camera motion photos append a video to the JPEG) is not an early end.
    """
    if not end_marker_missing(data):
        return False
    image_end = _jpeg_image_end if data.startswith(JPEG_SIGNATURE) else _png_image_end
    return image_end(data) is None


def _jpeg_image_end(data):
    """Offset just past the main image's end-of-image marker (segments such as an EXIF thumbnail are skipped by their
    length, entropy-coded data up to its next marker), or None when the data stops first."""
    pos, size = len(JPEG_SIGNATURE), len(data)
    while pos + 1 < size:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill byte, RSTn, TEM: no length field
            pos += 1 if marker == 0xFF else 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:  # start of scan: skip the coded data, where 0xFF is followed by 0x00 or an RSTn marker
            pos = data.find(b"\xff", pos)
            while 0 <= pos < size - 1 and (data[pos + 1] == 0x00 or 0xD0 <= data[pos + 1] <= 0xD7):
                pos = data.find(b"\xff", pos + 2)
            if pos < 0:
                return None
    return None


def _png_image_end(data):
    """Offset just past the IEND chunk (chunks are skipped by their length), or None when the data stops first."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        pos += 12 + length
        if kind == b"IEND":
            return pos if pos <= len(data) else None
    return None


def read_image(path):
    """Decode an image file to H x W x C (C = 1, 3) uint8 or uint16 RGB; alpha is dropped.

    Raises :class:`ImageError` for missing, empty, undecodable or truncated files (:func:`ends_early`; data appended
    after a complete image is accepted).
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ImageError(f"cannot read image {path}: {error.strerror}") from None
    return decode_image(data, path)


def decode_image(data, name):
    """:func:`read_image` on bytes already read; ``name`` (a path, or e.g. 'the upload') names them in errors."""
    if not data:
        raise ImageError(f"image {name} is an empty file")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise ImageError(f"image {name} is corrupt or not an image format OpenCV can decode")
    if ends_early(data):
        kind = "JPEG" if data.startswith(JPEG_SIGNATURE) else "PNG"
        raise ImageError(f"image {name} is a truncated {kind} (it ends before its end-of-image marker); "
                         f"re-export or remove it")
    if image.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"image {name} has pixel type {image.dtype}; ppix2pix reads 8-bit and 16-bit images")
    if image.ndim == 2:
        return image[:, :, None]
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image[:, :, ::-1]) if image.shape[2] == 3 else image[:, :, :1]


def header_size(data, name):
    """(width, height) of encoded image bytes from the file header alone, without decoding the pixels: lets a
    caller refuse images too large to decode. Raises :class:`ImageError` when the header is not an image's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
    except Image.DecompressionBombError as error:
        raise ImageError(f"image {name} is far too large: {error}") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a format ppix2pix reads "
                         f"({', '.join(IMAGE_EXTENSIONS)})") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"{name} has a damaged image header ({error})") from None


def image_size(path):
    """(height, width) of an image file, from its header when Pillow can read it (nothing is decoded), else from
    :func:`read_image` (which raises :class:`ImageError` for an unusable file)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
        return height, width
    except (OSError, ValueError, Image.DecompressionBombError):  # unknown format, damaged header, a huge image
        return read_image(path).shape[:2]


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
    """float image in [0, 1] -> uint8 (rounded), through one float copy (a large image's output is large)."""
    scaled = np.clip(image01, 0.0, 1.0)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def _opencv_order(image):
    """An H x W x C RGB (or 1-channel) image, float in [0, 1] or uint8/uint16, as OpenCV writes it (BGR)."""
    if image.dtype not in (np.uint8, np.uint16):
        image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]
    return np.ascontiguousarray(image)


def write_image(path, image):
    """Write an H x W x C RGB (or 1-channel) image, float in [0, 1] or uint8/uint16, creating folders."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if not cv2.imwrite(path, _opencv_order(image)):
        raise ImageError(f"cannot write image {path} (unknown extension or unwritable folder)")


def encode_png(image):
    """PNG bytes of an image as :func:`write_image` takes it."""
    done, data = cv2.imencode(".png", _opencv_order(image))
    if not done:
        raise ImageError(f"cannot encode a {image.shape} {image.dtype} image as PNG")
    return data.tobytes()
