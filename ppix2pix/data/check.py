"""Scanning a paired dataset for every problem at once (the reader stops at the first one)."""
import os
from collections import Counter

from ..errors import ImageError
from .dataset import group_by_stem, image_files
from .image_io import end_marker_missing, read_image


def _size_problem(width, height, crop_size):
    if crop_size and (width < crop_size or height < crop_size):
        return "too small", f"{width}x{height} per side is smaller than --crop-size {crop_size}"
    return None


def _file_end_marker_missing(path):
    with open(path, "rb") as handle:
        return end_marker_missing(handle.read())


def _read(path):
    """(image, None) or (None, (kind, message)) for an unreadable file."""
    try:
        return read_image(path), None
    except ImageError as error:
        if os.path.isfile(path) and _file_end_marker_missing(path):
            return None, ("truncated", f"{error}; the file ends early (no end marker): copy or download it again")
        return None, ("unreadable", str(error))


def check_ab_folder(folder, crop_size=None, progress=None):
    """(files checked, [(path, kind, message)]) for a folder of AB images: unreadable, truncated, odd width, too small,
    duplicate name.

    ``progress(total)`` (optional) makes an object whose ``update(count)`` is called as files are read.
    """
    paths = image_files(folder, "dataset")
    tracker = progress(len(paths)) if progress else None
    problems = []
    _by_stem(paths, folder, problems)
    for path in paths:
        if tracker:
            tracker.update(1)
        image, problem = _read(path)
        if problem is None and image.shape[1] % 2:
            problem = "odd width", f"{image.shape[1]} pixels wide, cannot be split into equal A and B halves"
        if problem is None:
            problem = _size_problem(image.shape[1] // 2, image.shape[0], crop_size)
        if problem:
            problems.append((path, *problem))
    return len(paths), problems


def _by_stem(paths, key, problems):
    """{stem: first path}; every later path with the same stem is reported as a duplicate name."""
    stems = {}
    for stem, (first, *duplicates) in group_by_stem(paths).items():
        problems += [(path, "duplicate name", f"same name as {first} in {key}; names without extension must be unique")
                     for path in duplicates]
        stems[stem] = first
    return stems


def check_ab_folders(folder_a, folder_b, crop_size=None, progress=None):
    """(files checked, [(path, kind, message)]) for A and B folders: also unmatched or duplicate names, size mismatch.

    ``progress`` as in :func:`check_ab_folder` (counted in pairs).
    """
    paths_a, paths_b = image_files(folder_a, "A folder"), image_files(folder_b, "B folder")
    problems = []
    stems_a, stems_b = _by_stem(paths_a, folder_a, problems), _by_stem(paths_b, folder_b, problems)
    for stems, partners, other in ((stems_a, stems_b, folder_b), (stems_b, stems_a, folder_a)):
        problems += [(stems[stem], "unmatched", f"no image named {stem}.* in {other}")
                     for stem in sorted(set(stems) - set(partners))]
    common = sorted(set(stems_a) & set(stems_b))
    tracker = progress(len(common)) if progress else None
    for stem in common:
        if tracker:
            tracker.update(1)
        (image_a, problem_a), (image_b, problem_b) = _read(stems_a[stem]), _read(stems_b[stem])
        problems += [(path, *problem) for path, problem in ((stems_a[stem], problem_a), (stems_b[stem], problem_b))
                     if problem]
        if problem_a or problem_b:
            continue
        if image_a.shape[:2] != image_b.shape[:2]:
            problems.append((stems_a[stem], "size mismatch",
                             f"{image_a.shape[1]}x{image_a.shape[0]} but its partner {stems_b[stem]} is "
                             f"{image_b.shape[1]}x{image_b.shape[0]}"))
            continue
        problem = _size_problem(image_a.shape[1], image_a.shape[0], crop_size)
        if problem:
            problems.append((stems_a[stem], *problem))
    return len(paths_a) + len(paths_b), problems


def summarize(problems):
    """'2 unreadable, 1 odd width' counts by kind."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(Counter(kind for _, kind, _ in problems).items()))
