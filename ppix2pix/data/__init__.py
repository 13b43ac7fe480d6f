"""Paired data: datasets, paired transforms, loaders, image I/O and colour conversions."""
from ..errors import DataError, ImageError
from .dataset import PairedDataset, list_images, match_pairs
from .image_io import read_image, write_image
from .loader import EpochBatchSampler, PairedLoader, build_dataloader, build_dataset

__all__ = ["PairedDataset", "DataError", "ImageError", "list_images", "match_pairs", "read_image", "write_image",
           "EpochBatchSampler", "PairedLoader", "build_dataloader", "build_dataset", "data_reader"]


def __getattr__(name):
    """``from ppix2pix.data import data_reader`` (documented) still works: the legacy reader lives in
    :mod:`ppix2pix.legacy_reader`, above the data package (it builds a config), and is imported on first use only,
    so importing ``ppix2pix.data`` never imports the config or the networks."""
    if name == "data_reader":
        from ..legacy_reader import data_reader
        return data_reader
    raise AttributeError(f"module 'ppix2pix.data' has no attribute {name!r}")
