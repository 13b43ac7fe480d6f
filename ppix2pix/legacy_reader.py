"""The PaddlePaddle "models" GAN reader API (``data_reader(cfg).make_data()``) over ppix2pix's paired data.

    from ppix2pix import data_reader             # or: from ppix2pix.data import data_reader
    reader = data_reader(cfg)                    # any object with attributes, or a mapping
    train_reader, test_reader, batch_num = reader.make_data()
    for pair in train_reader():                  # float32 [2, N, C, H, W] in [-1, 1]
        real_input, real_target = pair[0], pair[1]

``make_data()`` returns three values; the model zoo's reader returned a fourth, ``id2name`` (test index -> file
name), which is ``reader.id2name`` here, or the fourth value with ``make_data(with_id2name=True)``.

cfg: the keys below are read, every other attribute or key is ignored (a training-args object carrying ``epoch``,
``use_gpu``, ``output`` ... is fine); a near-miss spelling of a known key (``crop_szie``) is warned about once.
``data_dir`` (required), ``dataset``, ``batch_size``, ``test_batch_size``, ``load_size``, ``crop_size``,
``direction`` (AtoB/BtoA: index 0 holds the input side), ``shuffle``, ``input_nc``, ``output_nc``, ``net_G``,
``num_workers``, ``seed``, ``preprocess``, ``no_flip``, ``interpolation``, ``max_dataset_size``. Keys that are missing
or None take ppix2pix's config defaults (ppix2pix/config.py), so this reader augments exactly like training with
tools/train.py: it reads through the same PairedDataset, PairedTransform and EpochBatchSampler. Sizes are free (any
``crop_size`` up to ``load_size``) unless ``net_G`` names a generator (unet_256, resnet_9blocks ...), whose size
multiple then applies as in training.

Layouts under ``data_dir/dataset`` (or ``data_dir`` without ``dataset``), for the training split ``train`` and the test
split ``test`` (``val`` when there is no ``test``), first match wins:

* ``train.txt``: a list file, one ``A path<TAB>B path`` line per pair (paths relative to the list's folder);
* ``trainA/`` and ``trainB/``: separate A and B folders, paired by file name;
* ``train/``: AB images (A left half, B right half).

``train_reader(epoch=None)`` yields one epoch; each call without ``epoch`` moves on to the next epoch (new shuffle
order and augmentation, a function of (seed, epoch)). ``test_reader()`` yields the test set in order without
augmentation, so test batch ``k`` of size ``n`` holds the images ``id2name[k * n]`` ... ``id2name[k * n + n - 1]``.

This module sits above :mod:`ppix2pix.data`, not in it: it builds a resolved config (:mod:`ppix2pix.config`, which
itself imports the data package) and asks the networks for the generator's size multiple.
"""
import difflib
import itertools
import os
import warnings
from collections.abc import Mapping

import numpy as np

from .config import resolve_config
from .data.loader import build_dataloader
from .direction import input_and_target
from .errors import ConfigError, DataError
from .networks import generator_size_multiple

READER_KEYS = ("data_dir", "dataset", "batch_size", "test_batch_size", "load_size", "crop_size", "direction",
               "shuffle", "input_nc", "output_nc", "net_G", "num_workers", "seed", "preprocess", "no_flip",
               "interpolation", "max_dataset_size")
SHARED_DATA_KEYS = ("load_size", "crop_size", "preprocess", "no_flip", "interpolation", "max_dataset_size",
                    "num_workers")
TEST_SPLITS = ("test", "val")
NEAR_MISS_CUTOFF = 0.85  # difflib ratio: 'crop_szie' ~ 'crop_size' 0.89; model-zoo keys ('output', 'net_D') <= 0.8
_warned = set()


def _attributes(cfg):
    """The settings of ``cfg``: a mapping's items, or an object's public non-callable attributes."""
    if isinstance(cfg, Mapping):
        return {str(key): value for key, value in cfg.items()}
    settings = {}
    for name in dir(cfg):
        if name.startswith("_"):
            continue
        try:
            value = getattr(cfg, name)
        except Exception:  # a property that fails is not a setting
            continue
        if not callable(value):
            settings[name] = value
    return settings


def _warn_near_misses(names):
    for name in names:
        hint = difflib.get_close_matches(name, READER_KEYS, n=1, cutoff=NEAR_MISS_CUTOFF)
        if hint and name not in _warned:
            _warned.add(name)
            warnings.warn(f"data_reader cfg: '{name}' is not a reader key and is ignored; did you mean "
                          f"'{hint[0]}'?", UserWarning, stacklevel=4)


def _options(cfg):
    """The reader keys ``cfg`` sets (not None); other keys are ignored, near misses warned about."""
    settings = _attributes(cfg)
    _warn_near_misses(sorted(name for name in settings if name not in READER_KEYS))
    options = {key: settings[key] for key in READER_KEYS if settings.get(key) is not None}
    if "data_dir" not in options:
        raise ConfigError("data_reader cfg: data_dir is not set; point it at the folder holding train/ and "
                                 "test/ (or the dataset folders)")
    return options


def _split_source(root, split):
    """The dataset keys of a split's data under ``root`` (list file, A/B folders or AB folder), or None."""
    if os.path.isfile(os.path.join(root, f"{split}.txt")):
        return {"pair_list": os.path.join(root, f"{split}.txt")}
    folder_a, folder_b = os.path.join(root, f"{split}A"), os.path.join(root, f"{split}B")
    if os.path.isdir(folder_a) and os.path.isdir(folder_b):
        return {"dataroot_a": folder_a, "dataroot_b": folder_b}
    if os.path.isdir(os.path.join(root, split)):
        return {"dataroot": os.path.join(root, split)}
    return None


def split_sources(data_dir, dataset=None):
    """(train keys, test keys): where each split's pairs are under ``data_dir[/dataset]``; missing is an error."""
    root = os.path.join(data_dir, dataset) if dataset else data_dir
    if not os.path.isdir(root):
        raise DataError(f"data_reader: dataset folder {root!r} does not exist (data_dir={data_dir!r}, "
                        f"dataset={dataset!r})")
    layouts = "a list file {s}.txt (A<TAB>B per line), folders {s}A/ and {s}B/, or a folder {s}/ of AB images"
    train = _split_source(root, "train")
    if train is None:
        raise DataError(f"data_reader: no training data in {root!r}; expected {layouts.format(s='train')}")
    for split in TEST_SPLITS:
        test = _split_source(root, split)
        if test is not None:
            return train, test
    raise DataError(f"data_reader: no test data in {root!r}; expected {layouts.format(s='test')} (or val)")


def reader_config(options, train_source, test_source):
    """The resolved ppix2pix config (defaults from ppix2pix/config.py) that the reader's keys describe."""
    shared = {key: options[key] for key in SHARED_DATA_KEYS if key in options}
    generator = {key: options[key] for key in ("input_nc", "output_nc") if key in options}
    if "net_G" in options:
        generator["name"] = options["net_G"]
    model = {"generator": generator}
    if "direction" in options:
        model["direction"] = options["direction"]
    train = {**train_source, **shared, **{key: options[key] for key in ("batch_size", "shuffle") if key in options}}
    test = {**test_source, **shared, "shuffle": False}
    if "test_batch_size" in options:
        test["batch_size"] = options["test_batch_size"]
    raw = {"model": model, "dataset": {"train": train, "test": test}}
    if "seed" in options:
        raw["seed"] = options["seed"]
    cfg = resolve_config(raw, "data_reader cfg")
    generator = cfg["model"]["generator"]
    if generator["input_nc"] != generator["output_nc"]:
        raise ConfigError(f"data_reader cfg: input_nc {generator['input_nc']} and output_nc "
                                 f"{generator['output_nc']} differ, so input and target cannot be stacked into one "
                                 f"[2, N, C, H, W] array; use ppix2pix.data.build_dataloader, whose batches are "
                                 f"{{A, B, A_path, B_path}} dicts")
    return cfg


def stack_pair(batch, direction):
    """A loader batch {A, B, ...} -> float32 [2, N, C, H, W]: index 0 the input side, 1 the target side."""
    real_input, real_target = input_and_target(direction, batch["A"], batch["B"])
    return np.stack([real_input.numpy(), real_target.numpy()])


class data_reader:  # noqa: N801  (the name the PaddlePaddle models GAN code uses)
    """Paired data as ``make_data() -> (train_reader, test_reader, batch_num)``; see the module doc."""

    def __init__(self, cfg):
        options = _options(cfg)
        self.cfg = reader_config(options, *split_sources(options["data_dir"], options.get("dataset")))
        # Without a named generator any size goes; with one, its size multiple applies as in training.
        self.size_multiple = generator_size_multiple(self.cfg["model"]["generator"]) if "net_G" in options else 1
        self.id2name = None

    def make_data(self, with_id2name=False):
        """Build the loaders: (train_reader, test_reader, batches per train epoch), plus ``id2name`` ({test index:
        file name}, also kept as ``self.id2name``) as a fourth value with ``with_id2name=True``."""
        train_loader, test_loader = (build_dataloader(self.cfg, split, size_multiple=self.size_multiple)
                                     for split in ("train", "test"))
        self.id2name = {index: os.path.basename(path_a)
                        for index, (path_a, _) in enumerate(test_loader.dataset.pairs)}
        readers = (self._epoch_reader(train_loader), self._epoch_reader(test_loader), len(train_loader))
        return readers + (self.id2name,) if with_id2name else readers

    def _epoch_reader(self, loader):
        direction, epochs = self.cfg["model"]["direction"], itertools.count()

        def reader(epoch=None):
            """Yield one epoch (the next one when ``epoch`` is None) of [2, N, C, H, W] float32 arrays."""
            loader.set_epoch(next(epochs) if epoch is None else epoch)
            for batch in loader:
                yield stack_pair(batch, direction)
        return reader
