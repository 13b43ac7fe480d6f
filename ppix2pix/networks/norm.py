"""Normalization layer choice shared by all networks, and the conv-bias rule that goes with it."""
import functools

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..choices import NORM_TYPES  # noqa: F401  (re-exported)
from .batch_statistics import update_running_statistics


class Identity(nn.Layer):
    """A layer that returns its input (the 'none' normalization)."""

    def forward(self, x):
        return x


class BatchNorm2D(nn.BatchNorm2D):
    """``nn.BatchNorm2D`` (same parameters and statistics) whose running variance takes the unbiased batch variance,
    as PyTorch's BatchNorm does (:func:`.batch_statistics.update_running_statistics`), so that eval-mode outputs and
    exports of trained models match the reference's. Paddle's own kernel stores the biased one."""

    def forward(self, x):
        if not paddle.in_dynamic_mode():
            return nn.BatchNorm2D.forward(self, x)  # explicit: to_static rewrites zero-argument super()
        if not self.training or self._use_global_stats:
            return self._batch_norm(x, self._mean, self._variance, training=False)
        # Paddle's kernel gets copies of the running statistics; the layer's own follow the unbiased rule.
        out = self._batch_norm(x, self._mean.clone(), self._variance.clone(), training=True)
        self.update_statistics(x)
        return out

    def _batch_norm(self, x, running_mean, running_var, training):
        """Paddle's batch-norm kernel on ``x`` with these running statistics."""
        return F.batch_norm(x, running_mean, running_var, weight=self.weight, bias=self.bias, training=training,
                            momentum=self._momentum, epsilon=self._epsilon, data_format=self._data_format)

    def update_statistics(self, x):
        """Fold the batch ``x``'s per-channel mean and variance into the running statistics."""
        with paddle.no_grad():
            values = x.detach().astype(self._mean.dtype)  # half-precision activations: statistics in float32
            axes = [0, 2, 3] if self._data_format == "NCHW" else [0, 1, 2]
            update_running_statistics(self._mean, self._variance, values.mean(axes), values.var(axes, unbiased=False),
                                      values.size // self._mean.shape[0], self._momentum)


def norm_layer_factory(norm_type):
    """Return a callable ``f(num_channels) -> nn.Layer`` for 'batch', 'instance' or 'none'.

    BatchNorm uses Paddle momentum 0.9 (== PyTorch 0.1) with learnable affine parameters; InstanceNorm has no affine
    parameters and no running statistics, as in the reference implementation.
    """
    if norm_type == "batch":
        return functools.partial(BatchNorm2D, momentum=0.9, epsilon=1e-5)
    if norm_type == "instance":
        return functools.partial(nn.InstanceNorm2D, epsilon=1e-5, weight_attr=False, bias_attr=False)
    if norm_type == "none":
        return lambda num_channels: Identity()
    raise ValueError(f"norm_type must be one of {', '.join(NORM_TYPES)}, got {norm_type!r}")


def conv_bias(norm_type):
    """``bias_attr`` of a conv followed by a norm layer: a bias (``None``) only with InstanceNorm, else ``False``.

    This is the reference implementation's rule (``use_bias = norm_layer == InstanceNorm2d``), which also leaves
    those convs without a bias for norm 'none'; keeping it makes official weights load one to one.
    """
    norm_layer_factory(norm_type)  # validates the name
    return None if norm_type == "instance" else False
