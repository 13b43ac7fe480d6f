"""Checkpoint files: atomic writes, loading with clear errors, strict weight loading.

A ppix2pix checkpoint is one ``paddle.save`` dict with PaddleGAN's keys (``netG``, ``netD``, ``optimG``,
``optimD``, ``epoch``) plus ``config`` (the resolved config, so the file rebuilds its own networks), ``iteration``,
``rng`` and ``format``. A weights-only export holds ``netG`` (and ``config``). For sharing, a generator is written as
``.safetensors`` (no pickle at all): its weights, with the config and format as JSON metadata.

No file a user names is ever unpickled by ``paddle.load``: Paddle pickles go through the restricted reader of
:mod:`.paddle_pickle`, PyTorch files through :mod:`.interop.torch_file`, and every reader raises
:class:`CheckpointError` (defined in :mod:`.safe_loading`) for anything else.
"""
import io
import json
import os

import numpy as np
import paddle
import safetensors
import safetensors.numpy

from .durable import sync_folder
from .paddle_pickle import read_paddle_pickle
from .safe_loading import PLAIN_LEAVES, CheckpointError, check_structure, damaged

FORMAT = "ppix2pix/1"
SAFETENSORS_HEADER_LIMIT = 100_000_000  # the safetensors format's own bound on its JSON header
OWN_SECTIONS = ("netG", "netD", "optimG", "optimD", "config", "rng")


def save_checkpoint(state, path):
    """Write ``state`` to ``path`` atomically: a reader never sees a half-written file, even after a crash."""
    buffer = io.BytesIO()
    paddle.save(dict(state, format=FORMAT), buffer)
    write_atomically(buffer.getvalue(), path)


def write_atomically(data, path):
    """Write the bytes ``data`` to ``path`` through a temporary file, fsync, a rename and an fsync of the folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        sync_folder(folder)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_checkpoint(path, cfg=None):
    """Read a checkpoint dict written by :func:`save_checkpoint` or :func:`save_safetensors`.

    Foreign pix2pix weights are converted on the fly (see :mod:`ppix2pix.interop`): a PyTorch ``.pth`` (zip or
    legacy format) and a PaddleGAN file (a Paddle dict without ppix2pix's ``format``/``config`` keys). Their networks
    are described by ``cfg`` (a resolved config) when given, else inferred from the weights.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    from .interop import foreign  # the interop package imports this module
    if is_safetensors_file(path):
        return read_safetensors(path)
    if foreign.is_torch_file(path):
        return foreign.foreign_checkpoint(path, "pytorch", cfg)
    state = read_paddle_file(path)
    if "format" not in state and "config" not in state:
        return foreign.foreign_checkpoint(path, "paddlegan", cfg, state=state)
    return _check_sections(state, path)


def read_paddle_file(path):
    """The dict stored in a ``paddle.save`` (or pickled) file, with errors that name the file."""
    state = read_paddle_pickle(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict of weights, got {type(state).__name__}")
    return state


def _check_sections(state, path):
    """A ppix2pix checkpoint whose networks, optimizer states, config and RNG states are dicts."""
    wrong = [key for key in OWN_SECTIONS if key in state and not isinstance(state[key], dict)]
    if wrong:
        raise CheckpointError(f"{path}: {', '.join(wrong)} should be a dict (damaged or not a ppix2pix checkpoint)")
    return state


def is_safetensors_file(path):
    """True when ``path`` starts like a safetensors file: a little-endian u64 header size, then a JSON object."""
    with open(path, "rb") as handle:
        head = handle.read(10)
    return head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < SAFETENSORS_HEADER_LIMIT


def _array_or_plain(value):
    return isinstance(value, np.ndarray) or type(value) in PLAIN_LEAVES


def read_safetensors(path):
    """The checkpoint dict of a ``.safetensors`` file: ``netG`` (its tensors), and ``config``/``format`` from the
    metadata when present. Read by the safetensors library, which executes nothing."""
    try:
        with safetensors.safe_open(path, framework="numpy") as handle:
            metadata = handle.metadata() or {}
            state = {"netG": {key: handle.get_tensor(key) for key in handle.keys()}}
        if "config" in metadata:
            state["config"] = json.loads(metadata["config"])
        if "format" in metadata:
            state["format"] = metadata["format"]
    except Exception as error:  # the library's SafetensorError, bad JSON, a dtype numpy lacks...
        raise CheckpointError(f"{path}: damaged safetensors file ({damaged(error)})") from None
    check_structure(state, path, _array_or_plain)
    return _check_sections(state, path)


def save_safetensors(state, path, source="checkpoint"):
    """Write the generator of a checkpoint dict to ``path`` as safetensors, with its config as JSON metadata (after
    checking that the weights fit it, so that the file always loads)."""
    config = checkpoint_config(state, source)
    if "netG" not in state:
        raise CheckpointError(f"{source} has no generator weights (no 'netG' key)")
    check_generator_weights(config, state["netG"], source)
    tensors = {key: np.ascontiguousarray(np.asarray(value)) for key, value in state["netG"].items()}
    metadata = {"format": FORMAT, "config": json.dumps(config)}
    write_atomically(safetensors.numpy.save(tensors, metadata=metadata), path)


def _shape(value):
    return tuple(value.shape)


def check_net_weights(own, weights, name="net", strict=True, hint=None):
    """Raise listing every missing/unexpected key and shape mismatch of ``weights`` against the state dict ``own``.

    ``hint`` replaces the default advice at the end of the message.
    """
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    mismatched = [f"{key}: checkpoint {_shape(weights[key])} vs network {_shape(own[key])}"
                  for key in own if key in weights and _shape(weights[key]) != _shape(own[key])]
    if mismatched or (strict and (missing or unexpected)):
        problems = []
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape mismatches", mismatched)):
            if items:
                shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
                problems.append(f"{title}: {shown}")
        if hint is None:
            hint = (f"The checkpoint was made for another architecture: check "
                    f"model.{'generator' if name == 'netG' else 'discriminator'} settings or use the config stored "
                    f"in the checkpoint")
        raise CheckpointError(f"{name} weights do not fit this network ({'; '.join(problems)}). {hint}")


def load_net_weights(net, weights, name="net", strict=True):
    """Load ``weights`` into ``net`` after checking keys and shapes; raise listing every difference."""
    own = net.state_dict()
    check_net_weights(own, weights, name, strict)
    net.set_state_dict({key: weights[key] for key in own if key in weights})
    return net


def checkpoint_config(state, path):
    """The resolved config stored in a checkpoint (validated against this version's schema; a config that does not
    validate is a :class:`CheckpointError` of the file)."""
    from .config import ConfigError, resolve_config  # config imports the models; keep this module light for tools
    if "config" not in state:
        raise CheckpointError(f"{path} holds weights only, without the config that describes its networks; "
                              f"pass the training config (--config FILE) so ppix2pix can rebuild them")
    try:
        return resolve_config(state["config"], f"config stored in {path}")
    except ConfigError as error:
        raise CheckpointError(str(error)) from None


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
    from . import build  # the networks import paddle's layers; keep this module light for tools
    try:
        return build.generator(section)
    except ValueError as error:
        raise CheckpointError(f"{path}: cannot build its generator ({error})") from None
