"""Helpers for the data tests: resolved configs for tiny datasets and small hand-made images."""
import os

import numpy as np

from ppix2pix.config import resolve_config
from ppix2pix.data import build_dataset, write_image
from ppix2pix.networks import generator_size_multiple


def data_cfg(dataroot=None, generator=None, direction="AtoB", seed=0, **dataset):
    """A resolved config whose train and test sections share ``dataset`` keys (U-Net with 6 downs by default)."""
    section = {"dataroot": dataroot, **dataset}
    return resolve_config({"seed": seed,
                           "model": {"direction": direction, "generator": {"num_downs": 6, **(generator or {})}},
                           "dataset": {"train": dict(section), "test": dict(section)}}, "test config")


def make_dataset(train=True, **kwargs):
    """build_dataset over :func:`data_cfg` (``train`` picks the augmenting split), sized for its generator."""
    cfg = data_cfg(**kwargs)
    return build_dataset(cfg, "train" if train else "test",
                         size_multiple=generator_size_multiple(cfg["model"]["generator"]))


def noise(height, width, channels=3, seed=0, dtype=np.uint8):
    """A random image with no symmetry, so a wrong crop or flip shows."""
    high = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, high, (height, width, channels), endpoint=True).astype(dtype)


def write_ab(path, image_a, image_b):
    """Write an AB image: ``image_a`` on the left half, ``image_b`` on the right."""
    write_image(str(path), np.concatenate([image_a, image_b], axis=1))
    return str(path)


def as_model(image):
    """uint8/uint16 H x W x C -> C x H x W float32 in [-1, 1], as the dataset should deliver it without resizing."""
    scale = float(np.iinfo(image.dtype).max)
    return (image.astype(np.float32) / scale * 2.0 - 1.0).transpose(2, 0, 1)


def ab_tree(root, counts, size=64, seed=0):
    """Folders ``root/<split>`` of noise AB images; ``counts`` maps split name -> number of images."""
    for offset, (split, count) in enumerate(counts.items()):
        folder = os.path.join(root, split)
        os.makedirs(folder, exist_ok=True)
        for index in range(count):
            write_ab(os.path.join(folder, f"{index:03d}.png"), noise(size, size, seed=seed + 1000 * offset + 2 * index),
                     noise(size, size, seed=seed + 1000 * offset + 2 * index + 1))
    return str(root)
