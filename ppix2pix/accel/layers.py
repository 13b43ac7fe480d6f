"""CPU fast forms of layers that Paddle's CPU kernels run slowly: subclasses of the plain layers, with the same
parameters and state-dict keys, that :func:`ppix2pix.accel.accelerate` swaps in.

* :class:`Conv2D` / :class:`Conv2DTranspose` convolve through oneDNN (:mod:`.onednn`: float32, groups 1, int or
  per-axis padding; where no gradient is recorded, or inside the training step's :func:`.onednn.recorded_backward`)
  and add their bias with :func:`channel_bias_add`, the per-channel affine kernel of an inference batch norm, instead
  of Paddle's broadcast add.
* :class:`FewOutputConv2D` serves stride-1 convs with very few output channels (the PatchGAN's 1-channel logit conv,
  the ResNet generator's last 7x7 conv to RGB). Paddle's CPU conv unfolds the input (im2col) before one skinny GEMM;
  the fast form multiplies the weights of all taps by the input in one GEMM and lets col2im (``F.fold``) add the few
  tap planes into place.
* :class:`Pad2D` reflect- or replicate-pads small maps with two matrix products instead of Paddle's pad kernel.
* Channels-last activations: in networks made only of layers that keep it (the U-Net and the PatchGAN with batch
  norm or none), the oneDNN convs write their outputs in NHWC memory behind the usual NCHW tensor (a ``transpose``
  view), the form oneDNN's kernels read and write without reorders. :class:`BatchNorm2D` (oneDNN's batch norm), the
  ReLUs, the bias adds, :class:`SkipConnectionBlock`'s concat (oneDNN's concat) and its :func:`fork` (a skip
  connection's two gradients summed in NHWC) keep that memory order; any other op just sees an NCHW tensor.

The fast forms run only in dynamic-graph mode, on CPU tensors, in NCHW layers with zero padding. Everything else
(GPU, ``paddle.jit.to_static`` / export) runs the plain layer. ``PPIX2PIX_PLAIN_LAYERS=1`` in the environment or the
:func:`plain_layers` context switches the fast forms off. Measurements: ``benchmarks/README.md``.
"""
import contextlib
import functools

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle.autograd import PyLayer

from ..networks.generators import UnetSkipConnectionBlock
from ..networks.norm import BatchNorm2D as PlainBatchNorm2D
from ..runtime import env_switch_on
from . import onednn
from .onednn import TO_NCHW, TO_NHWC

DISABLE_VARIABLE = "PPIX2PIX_PLAIN_LAYERS"
# Keeps the fast layers but passes activations between them in NCHW (the oneDNN convs reorder them in and out).
NCHW_VARIABLE = "PPIX2PIX_NO_CHANNELS_LAST"
# Largest map side padded by selection matrices; on larger maps the products cost more than Paddle's pad kernel.
SELECTION_PAD_MAX_SIDE = 128
_plain_depth = 0


def fast_layers_enabled():
    """Whether the fast forms may run: not switched off by the environment or a :func:`plain_layers` block."""
    return _plain_depth == 0 and not env_switch_on(DISABLE_VARIABLE)


def fast_layers_summary():
    """One line for the start-up log: which CPU fast forms are on."""
    if not fast_layers_enabled():
        return "CPU fast layers: off (Paddle's kernels everywhere)"
    activations = ("NCHW activations" if env_switch_on(NCHW_VARIABLE)
                   else "channels-last activations in U-Nets and PatchGANs")
    kernels = (f"oneDNN {onednn.version()} convs, ReLUs and batch norms, {activations}" if onednn.available()
               else "Paddle's conv kernels (no usable oneDNN in the Paddle wheel)")
    return f"CPU fast layers: {kernels}; per-channel bias adds, col2im few-output convs, matrix reflection pads"


@contextlib.contextmanager
def plain_layers():
    """Run every layer in its plain Paddle form inside the ``with`` block."""
    global _plain_depth
    _plain_depth += 1
    try:
        yield
    finally:
        _plain_depth -= 1


def fast_form_may_run(x):
    """Whether a fast form may replace the plain layer for input ``x``: dynamic graph, CPU tensor, not switched off."""
    return paddle.in_dynamic_mode() and fast_layers_enabled() and x.place.is_cpu_place()


def is_channels_last(x):
    """Whether the memory of the 4-D NCHW tensor ``x`` is NHWC (a channels-last view, see :mod:`.onednn`)."""
    return onednn.memory_layout(x) == onednn.CHANNELS_LAST


def _per_channel(function, x, **kwargs):
    """``function(x, data_format=..., **kwargs)`` for a per-channel kernel, run on a channels-last ``x``'s NHWC memory
    as it lies (the result channels-last too)."""
    if is_channels_last(x):
        return function(x.transpose(TO_NHWC), data_format="NHWC", **kwargs).transpose(TO_NCHW)
    return function(x, data_format="NCHW", **kwargs)


def channel_bias_add(x, bias):
    """``x + bias`` per channel of NCHW ``x``, through the per-channel affine kernel of an inference batch norm.

    Exact: the kernel computes ``(x - 0) * (1 / sqrt(1 + 0)) * 1 + bias``; its backward gives ``dx = dy`` and
    ``dbias = sum(dy)`` over N, H and W.
    """
    zeros = paddle.zeros(bias.shape, bias.dtype)
    ones = paddle.ones(bias.shape, bias.dtype)
    unit_scale = paddle.ones(bias.shape, bias.dtype)
    # Paddle's batch-norm backward yields the bias gradient only when the scale needs one too.
    unit_scale.stop_gradient = bias.stop_gradient
    return _per_channel(F.batch_norm, x, running_mean=zeros, running_var=ones, weight=unit_scale, bias=bias,
                        training=False, epsilon=0.0)


def concat_channels(tensors):
    """``paddle.concat(tensors, axis=1)``; channels-last inputs are joined in their NHWC memory (the result
    channels-last too, through oneDNN where it can) rather than copied to NCHW first."""
    if fast_form_may_run(tensors[0]) and all(is_channels_last(x) for x in tensors):
        out = onednn.concat_channels(tensors)
        if out is not None:
            return out
        return paddle.concat([x.transpose(TO_NHWC) for x in tensors], axis=3).transpose(TO_NCHW)
    return paddle.concat(tensors, axis=1)


class _Fork(PyLayer):
    """Two handles on one channels-last tensor whose gradients are summed in its NHWC memory (Paddle's own gradient
    accumulation would return the sum in NCHW order)."""

    @staticmethod
    def forward(ctx, x):
        return tuple(x.transpose(TO_NHWC).transpose(TO_NCHW) for _ in range(2))

    @staticmethod
    def backward(ctx, first, second):
        if first is None or second is None:
            return second if first is None else first
        if is_channels_last(first) and is_channels_last(second):
            return (first.transpose(TO_NHWC) + second.transpose(TO_NHWC)).transpose(TO_NCHW)
        return first + second


def fork(x):
    """``(x, x)`` for a tensor used twice; a channels-last ``x`` gets its two gradients summed channels-last."""
    if fast_form_may_run(x) and not x.stop_gradient and is_channels_last(x):
        return _Fork.apply(x)
    return x, x


def writes_channels_last(layer):
    """Whether a fast conv ``layer`` writes its output channels-last now (:func:`use_channels_last`, not switched off
    by ``PPIX2PIX_NO_CHANNELS_LAST=1``)."""
    return layer.channels_last and not env_switch_on(NCHW_VARIABLE)


def use_channels_last(net):
    """Let every fast conv of ``net`` write its output channels-last (NHWC memory behind the NCHW tensor), so that
    the oneDNN convs, :class:`BatchNorm2D`, the ReLUs, bias adds and :func:`concat_channels` between them pass
    activations on without reordering them (CPU fast forms only; GPU, export and the plain layers see ordinary
    NCHW tensors; ``PPIX2PIX_NO_CHANNELS_LAST=1`` keeps NCHW). Returns ``net``."""
    for layer in net.sublayers():
        if isinstance(layer, (Conv2D, Conv2DTranspose)):
            layer.channels_last = True
    return net


class BatchNorm2D(PlainBatchNorm2D):
    """The networks' batch norm (PyTorch's running-statistics rule) that normalizes a channels-last input in its NHWC
    memory through oneDNN (:func:`.onednn.batch_norm`, which applies the same rule)."""

    def forward(self, x):
        if fast_form_may_run(x) and self._keeps_channels_last(x) and self.weight is not None and self.bias is not None:
            training = self.training and not self._use_global_stats
            out = onednn.batch_norm(x, self._mean, self._variance, self.weight, self.bias, training, self._momentum,
                                    self._epsilon)
            if out is not None:
                return out
        return PlainBatchNorm2D.forward(self, x)

    def _keeps_channels_last(self, x):
        return self._data_format == "NCHW" and x.place.is_cpu_place() and is_channels_last(x)

    def _batch_norm(self, x, running_mean, running_var, training):
        """Paddle's kernel, on a channels-last ``x``'s NHWC memory as it lies (oneDNN could not run it)."""
        if not self._keeps_channels_last(x):
            return PlainBatchNorm2D._batch_norm(self, x, running_mean, running_var, training)
        return _per_channel(F.batch_norm, x, running_mean=running_mean, running_var=running_var, weight=self.weight,
                            bias=self.bias, training=training, momentum=self._momentum, epsilon=self._epsilon)


class SkipConnectionBlock(UnetSkipConnectionBlock):
    """The U-Net level whose skip concat keeps channels-last activations in their NHWC memory (:func:`fork`,
    :func:`concat_channels`)."""

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        skip, x = fork(x)
        return concat_channels([skip, self.model(x)])


class Conv2D(nn.Conv2D):
    """``nn.Conv2D`` that, in the fast form, convolves through oneDNN (:mod:`.onednn`) when it can and adds its bias
    with :func:`channel_bias_add`; its output is channels-last when ``channels_last`` is set
    (:func:`use_channels_last`)."""

    channels_last = False

    def forward(self, x):
        if self._padding_mode != "zeros" or self._data_format != "NCHW" or not fast_form_may_run(x):
            return nn.Conv2D.forward(self, x)  # explicit: to_static rewrites zero-argument super()
        out = None
        if self._groups == 1:
            out = onednn.conv2d(x, self.weight, self._stride, self._padding, self._dilation,
                                writes_channels_last(self))
        if out is None:
            out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding,
                           dilation=self._dilation, groups=self._groups)
        return out if self.bias is None else channel_bias_add(out, self.bias)


class Conv2DTranspose(nn.Conv2DTranspose):
    """``nn.Conv2DTranspose`` that, in the fast form, runs through oneDNN (:mod:`.onednn`) when it can and adds its
    bias with :func:`channel_bias_add`; channels-last output as :class:`Conv2D`."""

    channels_last = False

    def forward(self, x, output_size=None):
        if self._data_format != "NCHW" or not fast_form_may_run(x):
            return nn.Conv2DTranspose.forward(self, x, output_size)
        out = None
        if (self._groups == 1 and onednn.is_axis_pair(self._padding)
                and (output_size is None or onednn.is_axis_pair(output_size))):
            out = onednn.conv2d_transpose(x, self.weight, self._stride, self._padding, self._dilation,
                                          self._output_hw(x, output_size), writes_channels_last(self))
        if out is None:
            out = F.conv2d_transpose(x, self.weight, None, padding=self._padding,
                                     output_padding=self.output_padding if output_size is None else 0,
                                     stride=self._stride, dilation=self._dilation, groups=self._groups,
                                     output_size=output_size)
        return out if self.bias is None else channel_bias_add(out, self.bias)

    def _output_hw(self, x, output_size):
        """Output height and width: ``output_size`` when given, else from the input size and the layer's window."""
        if output_size is not None:
            return list(onednn.axis_pair(output_size))
        stride, padding, dilation, output_padding = (
            onednn.axis_pair(value) for value in (self._stride, self._padding, self._dilation, self.output_padding))
        return [(x.shape[2 + axis] - 1) * stride[axis] - 2 * padding[axis]
                + dilation[axis] * (self._kernel_size[axis] - 1) + 1 + output_padding[axis] for axis in (0, 1)]


class LeakyReLU(nn.LeakyReLU):
    """``nn.LeakyReLU`` whose fast form runs oneDNN's eltwise kernels (:func:`.onednn.relu`): half the time of
    Paddle's CPU kernels forward and backward."""

    def forward(self, x):
        out = onednn.relu(x, self._negative_slope) if fast_form_may_run(x) else None
        return nn.LeakyReLU.forward(self, x) if out is None else out


class ReLU(nn.ReLU):
    """``nn.ReLU`` whose fast form runs oneDNN's eltwise kernels (:func:`.onednn.relu`)."""

    def forward(self, x):
        out = onednn.relu(x) if fast_form_may_run(x) else None
        return nn.ReLU.forward(self, x) if out is None else out


class Pad2D(nn.Pad2D):
    """``nn.Pad2D`` whose reflect / replicate padding of NCHW maps up to :data:`SELECTION_PAD_MAX_SIDE` pixels a side
    is, in the fast form, two products with 0/1 selection matrices (exact for finite values)."""

    def forward(self, x):
        if (self._mode not in ("reflect", "replicate") or self._data_format != "NCHW" or not fast_form_may_run(x)
                or max(x.shape[2:]) > SELECTION_PAD_MAX_SIDE or max(self.padding) >= min(x.shape[2:])):
            return nn.Pad2D.forward(self, x)
        left, right, top, bottom = self.padding
        batch, channels, height, width = x.shape
        rows = _selection_matrix(height, top, bottom, self._mode, x.dtype)
        columns = _selection_matrix(width, left, right, self._mode, x.dtype)
        out = paddle.matmul(x.reshape([batch * channels * height, width]), columns, transpose_y=True)
        out = paddle.matmul(rows, out.reshape([batch * channels, height, width + left + right]))
        return out.reshape([batch, channels, height + top + bottom, width + left + right])


@functools.lru_cache(maxsize=64)
def _selection_matrix(size, before, after, mode, dtype):
    """``[before + size + after, size]`` 0/1 matrix whose product with a length-``size`` axis pads it by ``mode``."""
    source = np.arange(-before, size + after)
    if mode == "reflect":
        source = np.abs(source)
        source = np.where(source >= size, 2 * (size - 1) - source, source)
    else:
        source = np.clip(source, 0, size - 1)
    matrix = paddle.zeros([len(source), size], dtype)
    matrix[np.arange(len(source)), source] = 1.0
    return matrix


class FewOutputConv2D(Conv2D):
    """:class:`Conv2D` whose CPU dynamic-graph forward is one GEMM over all taps plus col2im
    (:func:`tap_fold_conv2d`)."""

    MAX_OUTPUTS = 4

    @classmethod
    def serves(cls, layer):
        """Whether the conv ``layer`` is one this form serves: stride 1, no dilation or groups, zero padding smaller
        than the kernel, and at most :data:`MAX_OUTPUTS` output channels, fewer than its inputs."""
        return (list(layer._stride) == [1, 1] and list(layer._dilation) == [1, 1] and layer._groups == 1 and layer._padding_mode == "zeros"
                and layer._data_format == "NCHW" and isinstance(layer._padding, int)
                and 0 <= layer._padding < min(layer._kernel_size)
                and layer._out_channels <= cls.MAX_OUTPUTS and layer._out_channels < layer._in_channels)

    def forward(self, x):
        if self.serves(self) and fast_form_may_run(x):
            return tap_fold_conv2d(x, self.weight, self.bias, self._padding)
        return Conv2D.forward(self, x)


def tap_fold_conv2d(x, weight, bias, padding):
    """Stride-1 conv of NCHW ``x``: every tap of every output channel in one GEMM over the input grid, then col2im
    (``F.fold``) adds each tap plane into the output at its offset (+ bias).

    With the kernel flipped, the tap products ``[N, C_out*kh*kw, H*W]`` are exactly the columns whose col2im with
    padding ``k - 1 - padding`` is the convolution.
    """
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    batch, _, height, width = x.shape
    out_size = [height + 2 * padding - kernel_h + 1, width + 2 * padding - kernel_w + 1]
    x = onednn.in_layout(x, onednn.PLAIN)
    tap_weights = paddle.flip(weight, [2, 3]).transpose([0, 2, 3, 1])
    tap_weights = tap_weights.reshape([out_channels * kernel_h * kernel_w, in_channels])
    taps = paddle.matmul(tap_weights, x.reshape([batch, in_channels, height * width]))
    out = F.fold(taps, out_size, [kernel_h, kernel_w], paddings=[kernel_h - 1 - padding, kernel_w - 1 - padding])
    return out if bias is None else channel_bias_add(out, bias)
