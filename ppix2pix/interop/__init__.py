"""Interoperability with the other pix2pix implementations, without PyTorch installed.

* :mod:`.torch_file` / :mod:`.torch_pickle`: read PyTorch checkpoints (zip and legacy formats) into numpy arrays with
  a restricted unpickler.
* :mod:`.layouts`: key names and layouts of PyTorch and PaddleGAN state dicts versus ppix2pix's networks.
* :mod:`.architecture`: the network (U-Net, ResNet, PatchGAN, PixelGAN and their settings) inferred from weights.
* :mod:`.foreign`: a foreign file as a ppix2pix checkpoint dict (used by :mod:`ppix2pix.weights`'s
  ``load_checkpoint`` / ``load_generator``).
* :mod:`.paddlegan`: write a ppix2pix checkpoint's networks as PaddleGAN weights.
"""
from .foreign import foreign_checkpoint
from .paddlegan import save_paddlegan
from .torch_file import is_torch_file, read_torch_file

__all__ = ["foreign_checkpoint", "save_paddlegan", "is_torch_file", "read_torch_file"]
