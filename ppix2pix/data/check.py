"""Scanning a paired dataset for every problem at once (the reader stops at the first one).

``prepare_data.py check`` decodes every file of a folder (:func:`check_ab_folder`, :func:`check_ab_folders`); the
trainer's pre-flight check (:func:`check_pairs`) runs over a dataset's pairs, by default with a fast look at each
file's header and end marker (a full decode only for the files that look wrong), and remembers the result by file
size and mtime in a small JSON cache.
"""
import json
import logging
import os
from collections import Counter

from ..errors import DataError, ImageError
from ..training_log import counted
from .dataset import group_by_stem, image_files
from .image_io import END_MARKER_WINDOW, IMAGE_SIGNATURES, end_marker_missing, read_image

logger = logging.getLogger(__name__)
SHOWN_BAD_FILES = 3  # named in the one-line error; the count gives the rest


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


def _ab_problem(image, crop_size):
    """(kind, message) when a decoded AB image cannot be split into equal halves or is too small, else None."""
    if image.shape[1] % 2:
        return "odd width", f"{image.shape[1]} pixels wide, cannot be split into equal A and B halves"
    return _size_problem(image.shape[1] // 2, image.shape[0], crop_size)


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
        problems += pair_problems(path, path, crop_size)
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
        problems += pair_problems(stems_a[stem], stems_b[stem], crop_size)
    return len(paths_a) + len(paths_b), problems


def pair_problems(path_a, path_b, crop_size=None, ab=None):
    """[(path, kind, message)] of one pair, decoded in full: an AB image (``ab``, default: the same path twice) is
    unreadable, truncated, of odd width or too small; separate A and B images are unreadable, truncated, of different
    sizes or too small."""
    ab = path_a == path_b if ab is None else ab
    if path_a == path_b:
        image, problem = _read(path_a)
        if problem is None and ab:
            problem = _ab_problem(image, crop_size)
        return [(path_a, *problem)] if problem else []
    (image_a, problem_a), (image_b, problem_b) = _read(path_a), _read(path_b)
    problems = [(path, *problem) for path, problem in ((path_a, problem_a), (path_b, problem_b)) if problem]
    if problems:
        return problems
    if image_a.shape[:2] != image_b.shape[:2]:
        return [(path_a, "size mismatch", f"{image_a.shape[1]}x{image_a.shape[0]} but its partner {path_b} is "
                                          f"{image_b.shape[1]}x{image_b.shape[0]}")]
    problem = _size_problem(image_a.shape[1], image_a.shape[0], crop_size)
    return [(path_a, *problem)] if problem else []


def _looks_whole(path):
    """Whether a quick look (first bytes, last KB) finds a known image signature and, for JPEG and PNG, the end
    marker; False also for a missing, unreadable or empty file."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
            handle.seek(0, os.SEEK_END)
            handle.seek(max(len(head), handle.tell() - END_MARKER_WINDOW))
            tail = handle.read()
    except OSError:
        return False
    return head.startswith(IMAGE_SIGNATURES) and not end_marker_missing(head + tail)


def _fast_problems(path_a, path_b, ab):
    """The problems of a pair found by a quick look at its files; a file that looks wrong is decoded in full to
    confirm and explain it (data appended after a complete JPEG is fine, for instance)."""
    paths = (path_a,) if path_a == path_b else (path_a, path_b)
    if all(_looks_whole(path) for path in paths):
        return []
    return pair_problems(path_a, path_b, ab=ab)


class CheckCache:
    """Results of :func:`check_pairs` kept in a JSON file, each valid while its files keep their size and mtime; a
    full check's result also answers a fast one. A missing or damaged file is an empty cache. ``misses`` counts the
    pairs it could not answer (those checked afresh)."""

    VERSION = 1

    def __init__(self, path):
        self.path, self.entries, self.misses = path, {}, 0
        try:
            with open(path, encoding="utf-8") as handle:
                saved = json.load(handle)
            if saved.get("version") == self.VERSION and isinstance(saved.get("pairs"), dict):
                self.entries = saved["pairs"]
        except (OSError, ValueError, AttributeError):
            pass

    @staticmethod
    def _key(pair):
        return "\t".join(os.path.abspath(path) for path in pair)

    @staticmethod
    def _stamps(pair):
        try:
            return [[stat.st_size, stat.st_mtime_ns] for stat in map(os.stat, pair)]
        except OSError:
            return None

    def get(self, pair, full):
        """The cached problems of ``pair`` (a list), or None when unknown, changed or only fast-checked for ``full``."""
        entry = self.entries.get(self._key(pair))
        if not isinstance(entry, dict) or entry.get("stamps") != self._stamps(pair) or (full and not entry["full"]):
            self.misses += 1
            return None
        return [tuple(problem) for problem in entry["problems"]]

    def put(self, pair, full, problems):
        """Remember the problems of ``pair`` found by a fast or ``full`` check."""
        stamps = self._stamps(pair)
        if stamps is not None:
            self.entries[self._key(pair)] = {"stamps": stamps, "full": full, "problems": [list(p) for p in problems]}

    def save(self):
        """Write the cache (a temporary file renamed over the old one)."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"version": self.VERSION, "pairs": self.entries}, handle)
        os.replace(temporary, self.path)


def check_pairs(pairs, full=False, ab=True, cache=None, progress=None):
    """[(path, kind, message)] for a dataset's ``(A path, B path)`` pairs (AB images when the two paths are the same
    and ``ab``). Fast by default: each file's signature and end marker (a decode only where they look wrong); ``full``
    decodes every file. ``cache`` (a :class:`CheckCache`) skips the pairs checked before; ``progress`` as in
    :func:`check_ab_folder`."""
    tracker = progress(len(pairs)) if progress else None
    problems = []
    for pair in pairs:
        found = cache.get(pair, full) if cache is not None else None
        if found is None:
            found = pair_problems(*pair, ab=ab) if full else _fast_problems(*pair, ab)
            if cache is not None:
                cache.put(pair, full, found)
        problems += found
        if tracker:
            tracker.update(1)
    return problems


def summarize(problems):
    """'2 unreadable, 1 odd width' counts by kind."""
    return ", ".join(f"{count} {kind}" for kind, count in sorted(Counter(kind for _, kind, _ in problems).items()))


def fix_hint(section, split, count=1):
    """How to find and deal with the ``count`` bad files of ``dataset.<split>`` (``section``), for a one-line
    message."""
    if section["dataroot_a"] or section["dataroot_b"]:
        command = f"python tools/prepare_data.py check {section['dataroot_a']} {section['dataroot_b']}"
    elif section["dataroot"]:
        command = f"python tools/prepare_data.py check {section['dataroot']}"
    else:
        command = "python tools/prepare_data.py check FOLDER"
    them = "them" if count > 1 else "it"
    return (f"fix or remove {them} ({command} lists every problem), or set dataset.{split}.bad_files: skip to train "
            f"without {them}")


def _describe(problems, limit=None):
    """'a.jpg (truncated), b.png (unreadable)' for the first ``limit`` bad files (all when None), each file once."""
    kinds = {}
    for path, kind, _ in problems:
        kinds.setdefault(path, kind)
    shown = list(kinds.items())[:limit]
    more = len(kinds) - len(shown)
    return ", ".join(f"{path} ({kind})" for path, kind in shown) + (f" and {more} more" if more > 0 else ""), len(kinds)


def apply_bad_files_policy(dataset, problems, split):
    """Act on the pre-flight ``problems`` of ``dataset`` (``dataset.<split>``) as its ``bad_files`` key says: ``error``
    raises one :class:`DataError` line naming the first files, their count and the fix; ``skip`` drops their pairs
    with one warning listing them all."""
    if not problems:
        return
    section = dataset.section
    if section["bad_files"] != "skip":
        named, count = _describe(problems, SHOWN_BAD_FILES)
        raise DataError(f"dataset.{split}: {counted(count, 'bad image file')} found before training: "
                        f"{named}; {fix_hint(section, split, count)}")
    dropped = dataset.drop_pairs({path for path, _, _ in problems})
    named, count = _describe(problems)
    logger.warning("dataset.%s.bad_files is skip: dropped %s with %s: %s", split, counted(dropped, "pair"),
                   counted(count, "bad file"), named)
    if not dataset.pairs:
        raise DataError(f"dataset.{split}: every pair has a bad file ({named}), so none is left to train on")
