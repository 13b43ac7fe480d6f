"""Making paired data: AB images from A/B folders, edges -> photo and gray -> colour pairs, train/val/test splits,
and output folders that appear only when complete (written in a staging folder, renamed at the end).

AB images hold A on the left half and B on the right half, the layout :class:`PairedDataset` reads.
"""
import contextlib
import os
import shutil
import tempfile

import cv2
import numpy as np

from ..errors import DataError, ImageError
from .image_io import IMAGE_EXTENSIONS, to_channels, to_uint8, to_unit_float

SPLIT_NAMES = ("train", "val", "test")


def as_rgb8(image):
    """Any image read by :func:`read_image` (1 or 3 channels, 8 or 16 bit) as H x W x 3 uint8 RGB."""
    if image.dtype != np.uint8:
        image = to_uint8(to_unit_float(image))
    return to_channels(image, 3)


def resize_and_center_crop(image, size):
    """Scale so the shorter side is ``size``, then cut the central ``size`` x ``size`` square."""
    height, width = image.shape[:2]
    scale = size / min(height, width)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(image, (new_w, new_h), interpolation=interpolation).reshape(new_h, new_w, -1)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[top:top + size, left:left + size]


def edge_map(photo, sigma=0.33, min_pixels=10):
    """Thin dark edges on white (edges2shoes style) of an RGB uint8 photo, as an RGB uint8 image.

    Canny on an edge-preserving smoothed gray image, thresholds (1 -/+ ``sigma``) x the median intensity (with floors
    10 / 30 for dark images); edge fragments of fewer than ``min_pixels`` pixels are dropped as noise.
    """
    gray = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2GRAY)
    smooth = cv2.GaussianBlur(cv2.bilateralFilter(gray, 7, 50, 50), (0, 0), 1.0)
    median = float(np.median(smooth))
    low, high = max(10.0, (1 - sigma) * median), max(30.0, min(255.0, (1 + sigma) * median))
    edges = cv2.Canny(smooth, low, high, L2gradient=True)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= min_pixels
    keep[0] = False  # the background component
    lines = np.where(keep[labels], 0, 255).astype(np.uint8)
    return np.repeat(lines[:, :, None], 3, axis=2)


def gray_version(photo):
    """The luminance (ITU-R 601, as the reader's grayscale conversion) of an RGB uint8 photo, as 3 equal channels."""
    luma = to_uint8(to_channels(to_unit_float(photo), 1))
    return np.repeat(luma, 3, axis=2)


def side_by_side(left, right):
    """One AB image: ``left`` (A) | ``right`` (B), both H x W x 3 uint8."""
    return np.concatenate([left, right], axis=1)


def combine_images(image_a, image_b, path_a, path_b, resize=False):
    """AB image of an A and a B image; sizes must match unless ``resize`` (B is resized to A's size)."""
    image_a, image_b = as_rgb8(image_a), as_rgb8(image_b)
    if image_a.shape[:2] != image_b.shape[:2]:
        if not resize:
            raise ImageError(f"size mismatch: {path_a} is {image_a.shape[1]}x{image_a.shape[0]} but {path_b} is "
                             f"{image_b.shape[1]}x{image_b.shape[0]}; A and B must be aligned pictures of the same "
                             f"size (or pass --resize to resize B to A's size)")
        image_b = cv2.resize(image_b, (image_a.shape[1], image_a.shape[0]), interpolation=cv2.INTER_AREA)
    return side_by_side(image_a, image_b)


def output_name(relative_path, ext):
    """A flat output file name for an input found at ``relative_path``: folders joined by '_', new extension."""
    stem = os.path.splitext(relative_path)[0]
    return stem.replace(os.sep, "_").replace("/", "_") + ext


def check_extension(ext):
    """Normalise an output extension ('png' -> '.png'); unknown ones are an error."""
    ext = ext if ext.startswith(".") else "." + ext
    if ext.lower() not in IMAGE_EXTENSIONS:
        raise DataError(f"--ext {ext} is not an image extension ppix2pix reads ({', '.join(IMAGE_EXTENSIONS)})")
    return ext


def parse_ratios(text):
    """'0.8,0.1,0.1' (train, val, test) or '0.9,0.1' (train, test) -> {split: ratio}; must be >= 0 and sum to 1."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise DataError(f"--ratios {text!r}: give comma-separated numbers, e.g. 0.8,0.1,0.1") from None
    if len(values) not in (2, 3):
        raise DataError(f"--ratios {text!r}: give 3 ratios (train,val,test) or 2 (train,test)")
    if any(value < 0 or not np.isfinite(value) for value in values):
        raise DataError(f"--ratios {text!r}: ratios must be non-negative numbers")
    if abs(sum(values) - 1.0) > 1e-6:
        raise DataError(f"--ratios {text!r}: ratios sum to {sum(values):g}, they must sum to 1")
    names = SPLIT_NAMES if len(values) == 3 else ("train", "test")
    return dict(zip(names, values))


def split_files(paths, ratios, seed):
    """{split: [paths]}: a seeded shuffle of ``paths`` cut at the cumulative ratios, so every file is in one split."""
    order = np.random.default_rng(seed).permutation(len(paths))
    bounds = np.round(np.cumsum(list(ratios.values())) * len(paths)).astype(int)
    bounds[-1] = len(paths)
    starts = np.concatenate([[0], bounds[:-1]])
    return {name: [paths[i] for i in sorted(order[start:end])]
            for name, start, end in zip(ratios, starts, bounds)}


def place_file(source, target, mode):
    """Put ``source`` at ``target`` by 'copy', 'hardlink' or 'symlink' (absolute target)."""
    if mode == "copy":
        shutil.copy2(source, target)
    elif mode == "hardlink":
        os.link(source, target)
    elif mode == "symlink":
        os.symlink(os.path.abspath(source), target)
    else:
        raise ValueError(f"unknown mode {mode!r}")


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output_folder(out, overwrite, inputs=()):
    """Refuse an output that is a file, a non-empty folder (unless ``overwrite``) or a folder holding an input."""
    for source in inputs:
        if _inside(source, out):
            raise DataError(f"output folder {out} contains the input {source}; choose an --out outside the input")
    if os.path.lexists(out) and not os.path.isdir(out):
        raise DataError(f"output {out} exists and is not a folder; choose another --out")
    if os.path.isdir(out) and os.listdir(out) and not overwrite:
        raise DataError(f"output folder {out} is not empty; choose another --out or pass --overwrite to replace it")


@contextlib.contextmanager
def staged_folder(out, overwrite=False, inputs=()):
    """Yield a staging folder next to ``out``; when the block succeeds it replaces ``out``, otherwise it is removed.

    An interrupted run thus leaves ``out`` as it was (nothing half-written there).
    """
    out = os.path.abspath(out)
    check_output_folder(out, overwrite, inputs)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.partial-", dir=parent)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.rename(staging, out)
