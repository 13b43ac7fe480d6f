"""CPU fast forms of layers that Paddle's CPU kernels run slowly, with the same parameters as the plain layers.

:class:`Conv2D` and :class:`Conv2DTranspose` are ``nn.Conv2D`` / ``nn.Conv2DTranspose`` (same weights, same
state-dict keys) that add their bias with :func:`channel_bias_add` instead of Paddle's broadcast add. On a 2-core AMD
EPYC the broadcast add of a 64-channel bias to a ``[4, 64, 128, 128]`` map (the PatchGAN's first conv at batch 4) takes
113 ms forward + backward; the per-channel affine kernel of an inference batch norm does the same in 13 ms.

:class:`FewOutputConv2D` is a :class:`Conv2D` for convs with very few output channels, such as the PatchGAN's final
1-channel logit conv. Paddle's CPU conv runs those at a small fraction of its usual speed (185 ms forward + backward
for the 512 -> 1, 4x4 conv on a 31x31 map, batch 1). The fast form multiplies the weights of all taps by the input in
one GEMM (``[C_out*k*k, C_in] x [C_in, H*W]``), zero-pads the few tap planes and sums them shifted: 39 ms for the same
layer, 9x less at batch 4.

The fast forms run only in dynamic-graph mode, on CPU tensors, in NCHW with zero padding (the tap-sum form also needs
stride 1 / dilation 1 / groups 1). Everything else (GPU, ``paddle.jit.to_static`` / export) runs the plain layer.
``PPIX2PIX_PLAIN_LAYERS=1`` in the environment or the :func:`plain_layers` context switches the fast forms off.
"""
import contextlib

import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ..runtime import env_switch_on

DISABLE_VARIABLE = "PPIX2PIX_PLAIN_LAYERS"
_plain_depth = 0


def fast_layers_enabled():
    """Whether the fast forms may run: not switched off by the environment or a :func:`plain_layers` block."""
    return _plain_depth == 0 and not env_switch_on(DISABLE_VARIABLE)


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
    return F.batch_norm(x, zeros, ones, weight=unit_scale, bias=bias, training=False, epsilon=0.0)


class Conv2D(nn.Conv2D):
    """``nn.Conv2D`` that adds its bias with :func:`channel_bias_add` in the fast form."""

    def _bias_form_applies(self, x):
        return (self.bias is not None and self._padding_mode == "zeros" and self._data_format == "NCHW"
                and fast_form_may_run(x))

    def forward(self, x):
        if not self._bias_form_applies(x):
            return nn.Conv2D.forward(self, x)  # explicit: to_static rewrites zero-argument super()
        out = F.conv2d(x, self.weight, None, stride=self._stride, padding=self._padding, dilation=self._dilation,
                       groups=self._groups)
        return channel_bias_add(out, self.bias)


class Conv2DTranspose(nn.Conv2DTranspose):
    """``nn.Conv2DTranspose`` that adds its bias with :func:`channel_bias_add` in the fast form."""

    def forward(self, x, output_size=None):
        if self.bias is None or self._data_format != "NCHW" or not fast_form_may_run(x):
            return nn.Conv2DTranspose.forward(self, x, output_size)
        out = F.conv2d_transpose(x, self.weight, None, padding=self._padding,
                                 output_padding=self.output_padding if output_size is None else 0,
                                 stride=self._stride, dilation=self._dilation, groups=self._groups,
                                 output_size=output_size)
        return channel_bias_add(out, self.bias)


class FewOutputConv2D(Conv2D):
    """:class:`Conv2D` whose CPU dynamic-graph forward is one GEMM over all taps plus a sum of shifted tap planes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fast_form_applies = (
            list(self._stride) == [1, 1] and list(self._dilation) == [1, 1] and self._groups == 1
            and self._padding_mode == "zeros" and self._data_format == "NCHW" and isinstance(self._padding, int))

    def forward(self, x):
        if self._fast_form_applies and fast_form_may_run(x):
            return tap_sum_conv2d(x, self.weight, self.bias, self._padding)
        return Conv2D.forward(self, x)


def tap_sum_conv2d(x, weight, bias, padding):
    """Stride-1 conv of NCHW ``x``: all k*k taps in one GEMM, then the sum of the shifted tap planes (+ bias).

    Zero padding commutes with the per-pixel GEMM, so the (few) tap planes are padded rather than the input.
    """
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    batch, _, height, width = x.shape
    tap_weights = weight.transpose([0, 2, 3, 1]).reshape([out_channels * kernel_h * kernel_w, in_channels])
    taps = paddle.matmul(tap_weights, x.reshape([batch, in_channels, height * width]))
    taps = taps.reshape([batch, out_channels * kernel_h * kernel_w, height, width])
    if padding:
        taps = F.pad(taps, [padding] * 4)
        height, width = height + 2 * padding, width + 2 * padding
    taps = taps.reshape([batch, out_channels, kernel_h * kernel_w, height, width])
    out_h, out_w = height - kernel_h + 1, width - kernel_w + 1
    out = None
    for i in range(kernel_h):
        for j in range(kernel_w):
            plane = taps[:, :, i * kernel_w + j, i:i + out_h, j:j + out_w]
            out = plane if out is None else out + plane
    return out if bias is None else channel_bias_add(out, bias)
