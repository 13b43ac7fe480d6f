"""Checkpoint files: atomic writes, reading ppix2pix's own formats with clear errors, strict weight loading.

A ppix2pix checkpoint is one ``paddle.save`` dict with PaddleGAN's keys (``netG``, ``netD``, ``optimG``,
``optimD``, ``epoch``) plus ``config`` (the resolved config, so the file rebuilds its own networks), ``iteration``,
``rng`` and ``format``. A weights-only export holds ``netG`` (and ``config``). For sharing, a generator is written as
``.safetensors`` (no pickle at all): its weights, with the config and format as JSON metadata.

No file a user names is ever unpickled by ``paddle.load``: Paddle pickles go through the restricted reader of
:mod:`.paddle_pickle`, PyTorch files through :mod:`.interop.torch_file`, and every reader raises
:class:`~ppix2pix.errors.CheckpointError` for anything else.

This module knows file formats and state dicts only, not configs or networks: it imports no other ppix2pix layer
than the readers below it. Loading any checkpoint (foreign files included) with its config, and rebuilding its
generator, is :mod:`ppix2pix.weights`.
"""
import io
import json
import os

import numpy as np
import paddle
import safetensors
import safetensors.numpy

from .durable import sync_folder
from .errors import CheckpointError
from .paddle_pickle import read_paddle_pickle
from .safe_loading import PLAIN_LEAVES, check_structure, damaged

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


def read_paddle_file(path):
    """The dict stored in a ``paddle.save`` (or pickled) file, with errors that name the file."""
    state = read_paddle_pickle(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict of weights, got {type(state).__name__}")
    return state


def check_sections(state, path):
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
    return check_sections(state, path)


def write_safetensors(weights, config, path):
    """Write generator ``weights`` ({name: array}) to ``path`` as safetensors, atomically, with the config (a dict)
    and the format as JSON metadata: the file :func:`read_safetensors` reads back."""
    tensors = {key: np.ascontiguousarray(np.asarray(value)) for key, value in weights.items()}
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
