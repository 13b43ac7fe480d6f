"""Paired data: datasets, paired transforms, loaders, image I/O and colour conversions.

The names below load their module on first use: image I/O and the demo set's names import without Paddle, which only
the datasets and loaders need (a command line parses its arguments before Paddle loads).
"""
import importlib

from ..errors import DataError, ImageError

_MODULES = {"PairedDataset": "dataset", "list_images": "dataset", "match_pairs": "dataset",
            "read_image": "image_io", "write_image": "image_io", "EpochBatchSampler": "loader",
            "PairedLoader": "loader", "build_dataloader": "loader", "build_dataset": "loader"}

__all__ = ["PairedDataset", "DataError", "ImageError", "list_images", "match_pairs", "read_image", "write_image",
           "EpochBatchSampler", "PairedLoader", "build_dataloader", "build_dataset"]


def __getattr__(name):
    if name in _MODULES:
        return getattr(importlib.import_module(f".{_MODULES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
