"""Interoperability with the other pix2pix implementations, without PyTorch installed.

* :mod:`.torch_file` / :mod:`.torch_pickle`: read PyTorch checkpoints (zip and legacy formats) into numpy arrays with
  a restricted unpickler.
"""
from .torch_file import is_torch_file, read_torch_file

__all__ = ["is_torch_file", "read_torch_file"]
