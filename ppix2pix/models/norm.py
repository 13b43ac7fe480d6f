"""Normalization layer choice shared by all networks, and the conv-bias rule that goes with it."""
import functools

import paddle.nn as nn

from .fast_layers import BatchNorm2D

NORM_TYPES = ("batch", "instance", "none")


class Identity(nn.Layer):
    """A layer that returns its input (the 'none' normalization)."""

    def forward(self, x):
        return x


def norm_layer_factory(norm_type):
    """Return a callable ``f(num_channels) -> nn.Layer`` for 'batch', 'instance' or 'none'.

    BatchNorm (``nn.BatchNorm2D``, or its channels-last-aware fast form) uses Paddle momentum 0.9 (== PyTorch 0.1)
    with learnable affine parameters; InstanceNorm has no
    affine parameters and no running statistics, as in the reference implementation.
    """
    if norm_type == "batch":
        return functools.partial(BatchNorm2D, momentum=0.9, epsilon=1e-5)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2D, epsilon=1e-5, weight_attr=False, bias_attr=False)
    if norm_type == "none":
        return lambda num_channels: Identity()
    raise ValueError(f"norm_type must be one of {', '.join(NORM_TYPES)}, got {norm_type!r}")


def keeps_channels_last(norm_type):
    """Whether the networks' activations may stay channels-last between layers with this norm (InstanceNorm has no
    channels-last form in Paddle, so those networks stay NCHW)."""
    return norm_type != "instance"


def conv_uses_bias(norm_type):
    """Convs followed by a norm layer have a bias only with InstanceNorm.

    This is the reference implementation's rule (``use_bias = norm_layer == InstanceNorm2d``), which also leaves
    those convs without a bias for norm 'none'; keeping it makes official weights load one to one.
    """
    norm_layer_factory(norm_type)  # validates the name
    return norm_type == "instance"
