"""PairedDataset: aligned image pairs from an AB folder or from matching A and B folders (PaddleGAN style items).

Items are ``{'A', 'B', 'A_path', 'B_path'}`` with A and B as C x H x W float32 in [-1, 1]. Which side feeds the
generator is the model's business (``model.direction``); each side is read with the channel count of the network
side it feeds (1 = grayscale, 3 = RGB; ``color_space: lab`` gives L for A and ab for B from one colour image).
Random geometry is a function of (seed, epoch, index) only, so results do not depend on worker processes and a
resumed run sees the same augmentation.

Bad data, case by case (never a silent wrong pair):

- missing folder, folder without images, A/B names that do not match (all unmatched names listed), two images with
  the same name but different extensions in one folder (``a.png`` + ``a.jpg``, ambiguous pairing): :class:`DataError`
  when the dataset is built, naming the folder and files.
- hidden files (``.DS_Store``, ``._a.png``), non-image files and sub-folders: skipped, with one logged warning giving
  the count per folder (they are common and harmless, but a count makes a wrong folder visible).
- a corrupt, empty or truncated image, an AB image of odd width, an A/B size mismatch, an image smaller than
  crop_size: :class:`ImageError` naming the file when the pair is read (also from DataLoader workers, see loader.py).
  With ``bad_files: skip`` the pair is skipped instead (the next readable pair is returned, with one warning per
  file); the trainer's pre-flight check (``data/check.py``) drops the pairs it finds bad before training starts.
"""
import logging
import os

import numpy as np
import paddle

from ..direction import input_side, normalize_direction
from ..errors import DataError, ImageError
from .color import rgb_to_lab
from .image_io import is_image_file, read_image, to_channels, to_model, to_unit_float
from .transforms import PairedTransform


logger = logging.getLogger(__name__)


def image_files(folder, key="dataroot"):
    """Sorted image files directly inside ``folder``, skipping hidden and non-image entries (warned with a count).

    A missing or image-less folder is an error naming ``key``.
    """
    if not os.path.isdir(folder):
        raise DataError(f"{key}: folder {folder!r} does not exist")
    entries = os.listdir(folder)
    names = sorted(name for name in entries if not name.startswith(".") and is_image_file(name)
                   and os.path.isfile(os.path.join(folder, name)))
    if not names:
        raise DataError(f"{key}: folder {folder!r} has no images (looked for *.jpg, *.png, *.bmp, *.tif, ...)")
    if len(entries) > len(names):
        logger.warning("%s: skipped %d hidden, non-image or folder entries in %s", key, len(entries) - len(names),
                       folder)
    return [os.path.join(folder, name) for name in names]


def group_by_stem(paths):
    """{file name without extension: [paths with that name, in the given order]}."""
    groups = {}
    for path in paths:
        groups.setdefault(os.path.splitext(os.path.basename(path))[0], []).append(path)
    return groups


def list_images(folder, key="dataroot"):
    """:func:`image_files`, where two images sharing a name (``a.png``, ``a.jpg``) are also an error naming ``key``."""
    paths = image_files(folder, key)
    clashes = [", ".join(map(os.path.basename, group)) for group in group_by_stem(paths).values() if len(group) > 1]
    if clashes:
        raise DataError(f"{key}: folder {folder!r} holds images that differ only in extension ({'; '.join(clashes)})"
                        f", so pairs by name are ambiguous; keep one file per name")
    return paths


def match_pairs(folder_a, folder_b):
    """[(A path, B path)] matched by file name without extension; unmatched names are an error listing them."""
    stems_a = {stem: group[0] for stem, group in group_by_stem(list_images(folder_a, "dataroot_a")).items()}
    stems_b = {stem: group[0] for stem, group in group_by_stem(list_images(folder_b, "dataroot_b")).items()}
    only_a, only_b = sorted(set(stems_a) - set(stems_b)), sorted(set(stems_b) - set(stems_a))
    if only_a or only_b:
        parts = [f"{len(names)} in {folder} have no partner: {', '.join(names[:5])}{' ...' if len(names) > 5 else ''}"
                 for names, folder in ((only_a, folder_a), (only_b, folder_b)) if names]
        raise DataError("A and B folders do not match by file name: " + "; ".join(parts)
                        + ". Remove or rename those files so every A image has a B image of the same name")
    return [(stems_a[stem], stems_b[stem]) for stem in sorted(stems_a)]


MAX_PAIR_LIST_BYTES = 64 << 20


def read_pair_list(path):
    """[(A path, B path)] from a text file of ``A<TAB>B`` lines (relative paths start at the file's folder; blank
    lines and lines starting with # are skipped). Malformed lines and missing images are errors naming the line."""
    try:
        if os.path.getsize(path) > MAX_PAIR_LIST_BYTES:
            raise DataError(f"pair_list {path} is larger than {MAX_PAIR_LIST_BYTES >> 20} MB; is it a list file?")
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"pair_list {path}: cannot read it as a text file ({error})") from None
    folder, pairs = os.path.dirname(os.path.abspath(path)), []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) != 2:
            raise DataError(f"pair_list {path} line {number}: expected 'A path<TAB>B path', got {line!r}")
        pair = tuple(os.path.join(folder, field.strip()) for field in fields)
        missing = [image for image in pair if not os.path.isfile(image)]
        if missing:
            raise DataError(f"pair_list {path} line {number}: image {missing[0]!r} does not exist")
        pairs.append(pair)
    if not pairs:
        raise DataError(f"pair_list {path} lists no pairs")
    return pairs


def split_ab(image, path):
    """Split an AB image into its left (A) and right (B) halves; odd widths are an error."""
    width = image.shape[1]
    if width % 2:
        raise ImageError(f"AB image {path} is {width} pixels wide, an odd number, so it cannot be split into equal A "
                         f"and B halves; AB images hold A on the left half and B on the right half")
    return image[:, :width // 2], image[:, width // 2:]


class PairedDataset(paddle.io.Dataset):
    """Aligned pairs for pix2pix; ``train`` enables the random crop/flip of the preprocess mode.

    Sizes are kept to multiples of ``size_multiple``: what the generator takes (the caller asks the networks, e.g.
    ``generator_size_multiple(cfg['model']['generator'])``), or 1 for any size.
    """

    def __init__(self, section, model_cfg, train, seed=0, *, size_multiple):
        super().__init__()
        self.section, self.train, self.seed, self.epoch = section, train, int(seed or 0), 0
        self._skipped = set()
        generator = model_cfg["generator"]
        self.color_space = section["color_space"]
        direction = normalize_direction(model_cfg["direction"])
        if self.color_space == "lab" and direction != "AtoB":
            raise DataError("color_space lab makes A the L channel and B the ab channels; set model.direction: AtoB")
        side_in = input_side(direction)
        self.channels = {side_in: generator["input_nc"],
                         "B" if side_in == "A" else "A": generator["output_nc"]}
        try:
            self.transform = PairedTransform(section, size_multiple, train)
        except ValueError as error:
            raise DataError(str(error)) from None
        self.pairs = self._find_pairs()
        limit = section["max_dataset_size"]
        if limit is not None and limit < len(self.pairs):
            self.pairs = self.pairs[:int(limit)]

    def _find_pairs(self):
        section = self.section
        if section["pair_list"]:
            return read_pair_list(section["pair_list"])
        if section["dataroot_a"] or section["dataroot_b"]:
            if not (section["dataroot_a"] and section["dataroot_b"]):
                raise DataError("set both dataroot_a and dataroot_b (separate A and B folders), or dataroot alone "
                                "(AB images)")
            return match_pairs(section["dataroot_a"], section["dataroot_b"])
        if not section["dataroot"]:
            raise DataError("dataroot is not set: point it at a folder of AB images")
        return [(path, path) for path in list_images(section["dataroot"])]

    def drop_pairs(self, paths):
        """Remove the pairs that hold any of ``paths``; returns how many were removed."""
        bad = set(paths)
        kept = [pair for pair in self.pairs if not bad & set(pair)]
        removed, self.pairs = len(self.pairs) - len(kept), kept
        return removed

    def set_epoch(self, epoch):
        """Select the epoch whose random geometry ``__getitem__`` draws."""
        self.epoch = int(epoch)

    def __len__(self):
        return len(self.pairs)

    def _read_sides(self, path_a, path_b):
        """The A and B images as decoded (8 or 16 bit); B is None for ``color_space: lab`` (both come from A)."""
        if self.color_space == "lab":
            return read_image(path_a), None
        if path_a == path_b:
            return split_ab(read_image(path_a), path_a)
        image_a, image_b = read_image(path_a), read_image(path_b)
        if image_a.shape[:2] != image_b.shape[:2]:
            raise ImageError(f"pair size mismatch: {path_a} is {image_a.shape[1]}x{image_a.shape[0]} but "
                             f"{path_b} is {image_b.shape[1]}x{image_b.shape[0]}; A and B must be aligned")
        return image_a, image_b

    def __getitem__(self, index):
        if self.section.get("bad_files") != "skip":
            return self._item(index)
        for offset in range(len(self.pairs)):
            try:
                return self._item((index + offset) % len(self.pairs))
            except ImageError as error:
                self._warn_skipped(error)
        raise ImageError(f"no pair of the dataset can be read (bad_files: skip skipped all {len(self.pairs)})")

    def _warn_skipped(self, error):
        """One warning per unreadable file (per process: each DataLoader worker warns for itself)."""
        message = str(error)
        if message not in self._skipped:
            self._skipped.add(message)
            logger.warning("skipped a pair that cannot be read (bad_files: skip): %s", message)

    def _item(self, index):
        path_a, path_b = self.pairs[index]
        image_a, image_b = self._read_sides(path_a, path_b)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        try:
            geometry = self.transform.draw(rng, *image_a.shape[:2])
        except ValueError as error:
            raise ImageError(f"{path_a}: {error}") from None
        image_a = to_unit_float(self.transform.apply(image_a, geometry))
        if self.color_space == "lab":
            side_a, side_b = rgb_to_lab(to_channels(image_a, 3))
        else:
            image_b = to_unit_float(self.transform.apply(image_b, geometry))
            side_a = to_model(to_channels(image_a, self.channels["A"]))
            side_b = to_model(to_channels(image_b, self.channels["B"]))
        return {"A": side_a, "B": side_b, "A_path": path_a, "B_path": path_b}
