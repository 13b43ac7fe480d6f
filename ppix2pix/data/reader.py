"""The PaddlePaddle "models" GAN reader API (``data_reader(cfg).make_data()``) over ppix2pix's paired data.

    reader = data_reader(cfg)                    # an argparse Namespace or a dict
    train_reader, test_reader, batch_num, id2name = reader.make_data()
    for pair in train_reader():                  # float32 [2, N, C, H, W] in [-1, 1]
        real_input, real_target = pair[0], pair[1]

Folders: ``data_dir/dataset/train`` for training and ``data_dir/dataset/test`` (``data_dir/dataset/val`` when there is
no ``test``) for testing, each a folder of AB images (A left half, B right half). Without ``dataset`` the folders are
``data_dir/train`` and ``data_dir/test``.

cfg keys: ``data_dir`` (required), ``dataset``, ``batch_size``, ``test_batch_size``, ``load_size``, ``crop_size``,
``direction`` (AtoB/BtoA: index 0 holds the input side), ``shuffle``, ``input_nc``, ``output_nc``, ``net_G`` (the
generator, e.g. unet_256 or resnet_9blocks: sets the size multiple that ``preprocess: none`` rounds to),
``num_workers``, ``seed``, ``preprocess``, ``no_flip``, ``interpolation``, ``max_dataset_size``. Keys that are
missing or None take ppix2pix's config defaults (ppix2pix/config.py), so this reader augments exactly like training
with tools/train.py: it reads through the same PairedDataset, PairedTransform and EpochBatchSampler.

``train_reader(epoch=None)`` yields one epoch; each call without ``epoch`` moves on to the next epoch (new shuffle
order and augmentation, a function of (seed, epoch)). ``test_reader()`` yields the test set in file-name order without
augmentation, so test batch ``k`` of size ``n`` holds the images ``id2name[k * n]`` ... ``id2name[k * n + n - 1]``.
"""
import argparse
import itertools
import os

import numpy as np

from .. import config  # a module reference: ppix2pix.config itself imports ppix2pix.data
from ..direction import input_and_target
from .dataset import DataError
from .loader import build_dataloader

READER_KEYS = ("data_dir", "dataset", "batch_size", "test_batch_size", "load_size", "crop_size", "direction",
               "shuffle", "input_nc", "output_nc", "net_G", "num_workers", "seed", "preprocess", "no_flip",
               "interpolation", "max_dataset_size")
SHARED_DATA_KEYS = ("load_size", "crop_size", "preprocess", "no_flip", "interpolation", "max_dataset_size",
                    "num_workers")
TEST_FOLDERS = ("test", "val")


def _options(cfg):
    """The cfg's set keys as a dict; unknown keys and a missing data_dir are errors naming the key."""
    if isinstance(cfg, argparse.Namespace):
        cfg = vars(cfg)
    if not isinstance(cfg, dict):
        raise config.ConfigError(f"data_reader cfg must be an argparse Namespace or a dict, got {type(cfg).__name__}")
    unknown = sorted(str(key) for key in cfg if key not in READER_KEYS)
    if unknown:
        raise config.ConfigError(f"data_reader cfg: unknown key(s) {', '.join(unknown)}; "
                                 f"valid keys: {', '.join(READER_KEYS)}")
    options = {key: value for key, value in cfg.items() if value is not None}
    if "data_dir" not in options:
        raise config.ConfigError("data_reader cfg: data_dir is not set; point it at the folder holding train/ and "
                                 "test/")
    return options


def split_folders(data_dir, dataset=None):
    """(train folder, test folder) under ``data_dir[/dataset]``; a missing one is an error naming it."""
    root = os.path.join(data_dir, dataset) if dataset else data_dir
    if not os.path.isdir(root):
        raise DataError(f"data_reader: dataset folder {root!r} does not exist (data_dir={data_dir!r}, "
                        f"dataset={dataset!r})")
    expected = f"data_reader expects {os.path.join(root, 'train')} and {os.path.join(root, 'test')} (or val) folders"
    train = os.path.join(root, "train")
    if not os.path.isdir(train):
        raise DataError(f"data_reader: training folder {train!r} does not exist; {expected} of AB images")
    for name in TEST_FOLDERS:
        if os.path.isdir(os.path.join(root, name)):
            return train, os.path.join(root, name)
    raise DataError(f"data_reader: test folder {os.path.join(root, 'test')!r} (or {os.path.join(root, 'val')!r}) "
                    f"does not exist; {expected} of AB images")


def reader_config(options, train_dir, test_dir):
    """The resolved ppix2pix config (defaults from ppix2pix/config.py) that the reader's keys describe."""
    shared = {key: options[key] for key in SHARED_DATA_KEYS if key in options}
    generator = {key: options[key] for key in ("input_nc", "output_nc") if key in options}
    if "net_G" in options:
        generator["name"] = options["net_G"]
    model = {"generator": generator}
    if "direction" in options:
        model["direction"] = options["direction"]
    train = {"dataroot": train_dir, **shared, **{key: options[key] for key in ("batch_size", "shuffle")
                                                 if key in options}}
    test = {"dataroot": test_dir, **shared, "shuffle": False}
    if "test_batch_size" in options:
        test["batch_size"] = options["test_batch_size"]
    raw = {"model": model, "dataset": {"train": train, "test": test}}
    if "seed" in options:
        raw["seed"] = options["seed"]
    cfg = config.resolve_config(raw, "data_reader cfg")
    generator = cfg["model"]["generator"]
    if generator["input_nc"] != generator["output_nc"]:
        raise config.ConfigError(f"data_reader cfg: input_nc {generator['input_nc']} and output_nc "
                                 f"{generator['output_nc']} differ, so input and target cannot be stacked into one "
                                 f"[2, N, C, H, W] array; use ppix2pix.data.build_dataloader, whose batches are "
                                 f"{{A, B, A_path, B_path}} dicts")
    return cfg


def stack_pair(batch, direction):
    """A loader batch {A, B, ...} -> float32 [2, N, C, H, W]: index 0 the input side, 1 the target side."""
    real_input, real_target = input_and_target(direction, batch["A"], batch["B"])
    return np.stack([real_input.numpy(), real_target.numpy()])


class data_reader:  # noqa: N801  (the name the PaddlePaddle models GAN code uses)
    """Paired AB data as ``make_data() -> (train_reader, test_reader, batch_num, id2name)``; see the module doc."""

    def __init__(self, cfg):
        options = _options(cfg)
        train_dir, test_dir = split_folders(options["data_dir"], options.get("dataset"))
        self.cfg = reader_config(options, train_dir, test_dir)

    def make_data(self):
        """Build the loaders: (train_reader, test_reader, batches per train epoch, {test index: file name})."""
        train_loader, test_loader = build_dataloader(self.cfg, "train"), build_dataloader(self.cfg, "test")
        id2name = {index: os.path.basename(path_a) for index, (path_a, _) in enumerate(test_loader.dataset.pairs)}
        return self._epoch_reader(train_loader), self._epoch_reader(test_loader), len(train_loader), id2name

    def _epoch_reader(self, loader):
        direction, epochs = self.cfg["model"]["direction"], itertools.count()

        def reader(epoch=None):
            """Yield one epoch (the next one when ``epoch`` is None) of [2, N, C, H, W] float32 arrays."""
            loader.set_epoch(next(epochs) if epoch is None else epoch)
            for batch in loader:
                yield stack_pair(batch, direction)
        return reader
