"""Paired data: datasets, paired transforms, loaders, image I/O and colour conversions."""
from ..errors import DataError, ImageError
from .dataset import PairedDataset, list_images, match_pairs
from .image_io import read_image, write_image
from .loader import EpochBatchSampler, PairedLoader, build_dataloader, build_dataset

__all__ = ["PairedDataset", "DataError", "ImageError", "list_images", "match_pairs", "read_image", "write_image",
           "EpochBatchSampler", "PairedLoader", "build_dataloader", "build_dataset"]
