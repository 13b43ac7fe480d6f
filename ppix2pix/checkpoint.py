"""Checkpoint files: atomic writes, loading with clear errors, strict weight loading.

A ppix2pix checkpoint is one ``paddle.save`` dict with PaddleGAN's keys (``netG``, ``netD``, ``optimG``,
``optimD``, ``epoch``) plus ``config`` (the resolved config, so the file rebuilds its own networks), ``iteration``,
``rng`` and ``format``. A weights-only export holds ``netG`` (and ``config``).
"""
import io
import os

import paddle

FORMAT = "ppix2pix/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what to do."""


def save_checkpoint(state, path):
    """Write ``state`` to ``path`` atomically: a reader never sees a half-written file, even after a crash."""
    buffer = io.BytesIO()
    paddle.save(dict(state, format=FORMAT), buffer)
    write_atomically(buffer.getvalue(), path)


def write_atomically(data, path):
    """Write the bytes ``data`` to ``path`` through a temporary file and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.tmp{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def load_checkpoint(path, cfg=None):
    """Read a checkpoint dict written by :func:`save_checkpoint`.

    Foreign pix2pix weights are converted on the fly (see :mod:`ppix2pix.interop`): a PyTorch ``.pth`` (zip or
    legacy format) and a PaddleGAN file (a Paddle dict without ppix2pix's ``format``/``config`` keys). Their networks
    are described by ``cfg`` (a resolved config) when given, else inferred from the weights.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    from .interop import foreign  # the interop package imports this module
    if foreign.is_torch_file(path):
        return foreign.foreign_checkpoint(path, "pytorch", cfg)
    state = read_paddle_file(path)
    if "format" not in state and "config" not in state:
        return foreign.foreign_checkpoint(path, "paddlegan", cfg, state=state)
    return state


def read_paddle_file(path):
    """The dict stored in a ``paddle.save`` (or pickled) file, with errors that name the file."""
    try:
        state = paddle.load(path)
    except Exception as error:  # paddle raises many types for a damaged file
        raise CheckpointError(f"{path}: not a readable Paddle checkpoint ({type(error).__name__}: {error}); "
                              f"the file may be truncated or from another framework (see tools/convert.py)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a dict of weights, got {type(state).__name__}")
    return state


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
    """The resolved config stored in a checkpoint (validated against this version's schema)."""
    from .config import resolve_config  # config imports the models; keep this module light for tools
    if "config" not in state:
        raise CheckpointError(f"{path} holds weights only, without the config that describes its networks; "
                              f"pass the training config (--config FILE) so ppix2pix can rebuild them")
    return resolve_config(state["config"], f"config stored in {path}")


def load_generator(path, cfg=None):
    """Rebuild the generator of a checkpoint with its weights: returns (netG, cfg).

    The networks are described by the config stored in the file; ``cfg`` (a resolved config) is needed only for
    weights-only files without one and, for foreign files (PyTorch, PaddleGAN), replaces the inferred architecture.
    """
    from .models import build_generator
    state = load_checkpoint(path, cfg)
    cfg = checkpoint_config(state, path) if cfg is None or "config" in state else cfg
    if "netG" not in state:
        raise CheckpointError(f"{path} has no generator weights (no 'netG' key; keys: {', '.join(sorted(state))})")
    net = build_generator(cfg["model"]["generator"])
    load_net_weights(net, state["netG"], "netG")
    return net, cfg
