"""Name and layout mapping between PyTorch / PaddleGAN pix2pix state dicts and ppix2pix's networks.

ppix2pix's networks mirror the reference's module nesting, so a parameter keeps its dotted name
(``model.model.1.model.3.weight``) and its layout (Conv2D ``[out, in, kH, kW]``, Conv2DTranspose
``[in, out, kH, kW]`` in all three). What differs:

* PyTorch: a ``module.`` prefix (DataParallel); BatchNorm ``running_mean`` / ``running_var`` are ppix2pix's
  ``_mean`` / ``_variance``; ``num_batches_tracked`` has no counterpart (dropped). Checkpoints from torch < 0.4 hold
  running statistics for InstanceNorm layers, which the reference ignores (dropped here too).
* PaddleGAN: ppix2pix's names, but its InstanceNorm layers carry a frozen ``scale`` = 1 / ``bias`` = 0 pair, and its
  NLayerDiscriminator's first conv has a bias only with instance norm (a known defect; read as a zero bias).
"""
import numpy as np
import paddle
import paddle.nn as nn

from ..checkpoint import check_net_weights
from ..choices import FRAMEWORKS  # noqa: F401  (re-exported)
from ..errors import CheckpointError
from ..networks import build_discriminator, build_generator
from ..networks.norm import Identity

SECTIONS = {"netG": "generator", "netD": "discriminator"}  # config section of each network
TORCH_RENAMES = {"running_mean": "_mean", "running_var": "_variance"}
RUNNING_STATISTICS = ("_mean", "_variance")


def as_numpy(value):
    """A numpy array from a numpy array or a Paddle tensor."""
    return value.numpy() if isinstance(value, paddle.Tensor) else np.asarray(value)


def pytorch_names(state_dict):
    """A PyTorch state dict with ppix2pix's key names (numpy values)."""
    renamed = {}
    for key, value in state_dict.items():
        key = key[len("module."):] if key.startswith("module.") else key
        layer, _, leaf = key.rpartition(".")
        if leaf == "num_batches_tracked":
            continue
        leaf = TORCH_RENAMES.get(leaf, leaf)
        renamed[f"{layer}.{leaf}" if layer else leaf] = as_numpy(value)
    return renamed


def paddlegan_names(state_dict):
    """A PaddleGAN state dict with ppix2pix's key names (they are the same; values become numpy)."""
    return {key: as_numpy(value) for key, value in state_dict.items()}


RENAMES = {"pytorch": pytorch_names, "paddlegan": paddlegan_names}


def _network(section, role):
    """The network of a config section, with shapes but no allocated weights (cheap even for unet_256)."""
    build = build_generator if role == "netG" else build_discriminator
    with paddle.LazyGuard():
        return build(section)


def biases_absent_in(framework, section, role):
    """Bias keys of ppix2pix's network that the framework's own version of the network does not have."""
    net = _network(section, role)
    absent = set()
    if framework == "paddlegan" and role == "netD" and net.n_layers > 0 and section["norm_type"] != "instance":
        absent.add("model.0.bias")
    return absent


def _parameter_free_norms(net):
    """Names of norm layers without parameters here (InstanceNorm without affine, 'none')."""
    return {name for name, layer in net.named_sublayers() if isinstance(layer, (nn.InstanceNorm2D, Identity))}


def _check_droppable(key, value, source):
    """Extra weights of a parameter-free norm layer may be dropped only when they change nothing."""
    leaf = key.rsplit(".", 1)[-1]
    if leaf in RUNNING_STATISTICS:
        return
    identity = {"scale": 1.0, "weight": 1.0, "bias": 0.0}.get(leaf)
    if identity is None or not np.all(as_numpy(value) == identity):
        raise CheckpointError(f"{source}: {key} belongs to an instance-norm (or 'none') layer, which has no "
                              f"learned parameters in pix2pix; affine instance norm is not supported")


def to_ppix2pix(weights, section, role, framework, source, hint=None):
    """Fit foreign ``weights`` (ppix2pix key names) to the network of ``section``: float32 numpy arrays, exactly
    the network's keys. Raises :class:`CheckpointError` listing missing/unexpected keys and shape mismatches."""
    net = _network(section, role)
    own = net.state_dict()
    free_norms = _parameter_free_norms(net)
    fitted = {}
    for key, value in weights.items():
        if key.rpartition(".")[0] in free_norms:
            _check_droppable(key, value, source)
        else:
            fitted[key] = value
    for key in biases_absent_in(framework, section, role):
        fitted.setdefault(key, np.zeros(own[key].shape, np.float32))
    check_net_weights(own, fitted, role, hint=hint)
    return {key: np.asarray(fitted[key], np.float32) for key in own}


def to_paddlegan(weights, section, role):
    """ppix2pix ``weights`` in PaddleGAN's layout (numpy arrays), or raise when PaddleGAN's network cannot hold
    them exactly (it has no PixelGAN, and lacks some biases: see the module docstring) or they do not fit
    ``section``."""
    net = _network(section, role)
    check_net_weights(net.state_dict(), weights, role)
    if role == "netD" and net.n_layers == 0:
        raise CheckpointError("PaddleGAN has no PixelGAN discriminator (n_layers 0)")
    converted = {key: as_numpy(value) for key, value in weights.items()}
    for key in sorted(biases_absent_in("paddlegan", section, role)):
        bias = converted.pop(key)
        if np.any(bias != 0):
            raise CheckpointError(f"{role}: PaddleGAN's version of this network has no {key}, and the bias here is "
                                  f"not zero (max |bias| {np.abs(bias).max():.3g}), so it cannot be written exactly")
    for name, layer in net.named_sublayers():
        if isinstance(layer, nn.InstanceNorm2D):
            converted[f"{name}.scale"] = np.ones(layer._num_features, np.float32)
            converted[f"{name}.bias"] = np.zeros(layer._num_features, np.float32)
    return converted
