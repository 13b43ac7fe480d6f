"""Weights with their config: load any checkpoint (foreign ones converted), rebuild its generator, share it.

This is the layer above the file formats (:mod:`.checkpoint`), the configs (:mod:`.config`), the networks
(:mod:`.models`) and the foreign formats (:mod:`.interop`), which is why it is not part of :mod:`.checkpoint`:

* :func:`load_checkpoint`: a ppix2pix checkpoint dict from a ppix2pix file (Paddle or safetensors), a PyTorch
  ``.pth`` or a PaddleGAN file.
* :func:`load_generator`: the generator of such a file, built from its config, with its weights.
* :func:`save_safetensors`: a checkpoint's generator as a ``.safetensors`` file, checked to load.
"""
import os

import paddle

from .checkpoint import (check_net_weights, check_sections, is_safetensors_file, load_net_weights, read_paddle_file,
                         read_safetensors, write_safetensors)
from .config import checkpoint_config
from .errors import CheckpointError
from .interop.foreign import foreign_checkpoint
from .interop.torch_file import is_torch_file
from . import build


def load_checkpoint(path, cfg=None):
    """Read a checkpoint dict written by :func:`ppix2pix.checkpoint.save_checkpoint` or :func:`save_safetensors`.

    Foreign pix2pix weights are converted on the fly (see :mod:`ppix2pix.interop`): a PyTorch ``.pth`` (zip or
    legacy format) and a PaddleGAN file (a Paddle dict without ppix2pix's ``format``/``config`` keys). Their networks
    are described by ``cfg`` (a resolved config) when given, else inferred from the weights.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    if is_safetensors_file(path):
        return read_safetensors(path)
    if is_torch_file(path):
        return foreign_checkpoint(path, "pytorch", cfg)
    state = read_paddle_file(path)
    if "format" not in state and "config" not in state:
        return foreign_checkpoint(path, "paddlegan", cfg, state=state)
    return check_sections(state, path)


def save_safetensors(state, path, source="checkpoint"):
    """Write the generator of a checkpoint dict to ``path`` as safetensors, with its config as JSON metadata (after
    checking that the weights fit it, so that the file always loads)."""
    config = checkpoint_config(state, source)
    if "netG" not in state:
        raise CheckpointError(f"{source} has no generator weights (no 'netG' key)")
    check_generator_weights(config, state["netG"], source)
    write_safetensors(state["netG"], config, path)


def load_generator(path, cfg=None):
    """Rebuild the generator of a checkpoint with its weights: returns (netG, cfg).

    The networks are described by the config stored in the file; ``cfg`` (a resolved config) is needed only for
    weights-only files without one and, for foreign files (PyTorch, PaddleGAN), replaces the inferred architecture.
    """
    state = load_checkpoint(path, cfg)
    cfg = checkpoint_config(state, path) if cfg is None or "config" in state else cfg
    if "netG" not in state:
        raise CheckpointError(f"{path} has no generator weights (no 'netG' key; keys: {', '.join(sorted(state))})")
    check_generator_weights(cfg, state["netG"], path)
    net = _generator(cfg["model"]["generator"], path)
    load_net_weights(net, state["netG"], "netG")
    return net, cfg


def check_generator_weights(cfg, weights, path):
    """Raise unless ``weights`` fit the generator of ``cfg``, comparing shapes only: a config from a file allocates
    nothing (ngf=2^20 would ask for terabytes) before its weights are known to fit."""
    with paddle.LazyGuard():
        own = _generator(cfg["model"]["generator"], path).state_dict()
    try:
        check_net_weights(own, weights, "netG")
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None


def _generator(section, path):
    """The generator a config section describes; settings no generator takes name the file."""
    try:
        return build.generator(section)
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot build its generator ({error})") from None
