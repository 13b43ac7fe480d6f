"""CPU fast forms of layers that Paddle's CPU kernels run slowly, with the same parameters as the plain layers.

:class:`FewOutputConv2D` is an ``nn.Conv2D`` (same weights, same state-dict keys) for convs with very few output
channels, such as the PatchGAN's final 1-channel logit conv. Paddle's CPU conv runs those at a small fraction of its
usual speed (on a 2-core AMD EPYC, 185 ms forward + backward for the 512 -> 1, 4x4 conv on a 31x31 map, batch 1). The
fast form multiplies the weights of all taps by the input in one GEMM (``[C_out*k*k, C_in] x [C_in, H*W]``) and sums the
k*k shifted tap planes: 39 ms for the same layer, 9x less at batch 4.

The fast form runs only in dynamic-graph mode, on CPU tensors, for stride 1 / dilation 1 / groups 1 / zero padding
in NCHW. Everything else (GPU, ``paddle.jit.to_static`` / export) runs the plain layer. ``PPIX2PIX_PLAIN_LAYERS=1``
in the environment or the :func:`plain_layers` context switches the fast forms off.
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


class FewOutputConv2D(nn.Conv2D):
    """``nn.Conv2D`` whose CPU dynamic-graph forward is one GEMM over all taps plus a sum of shifted tap planes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._fast_form_applies = (
            list(self._stride) == [1, 1] and list(self._dilation) == [1, 1] and self._groups == 1
            and self._padding_mode == "zeros" and self._data_format == "NCHW" and isinstance(self._padding, int))

    def forward(self, x):
        if not paddle.in_dynamic_mode():  # to_static / export: the plain conv goes into the program
            return super().forward(x)
        if self._fast_form_applies and fast_layers_enabled() and x.place.is_cpu_place():
            return tap_sum_conv2d(x, self.weight, self.bias, self._padding)
        return super().forward(x)


def tap_sum_conv2d(x, weight, bias, padding):
    """Stride-1 conv of NCHW ``x``: all k*k taps in one GEMM, then the sum of the shifted tap planes (+ bias)."""
    out_channels, in_channels, kernel_h, kernel_w = weight.shape
    if padding:
        x = F.pad(x, [padding] * 4)
    batch, _, height, width = x.shape
    out_h, out_w = height - kernel_h + 1, width - kernel_w + 1
    tap_weights = weight.transpose([0, 2, 3, 1]).reshape([out_channels * kernel_h * kernel_w, in_channels])
    taps = paddle.matmul(tap_weights, x.reshape([batch, in_channels, height * width]))
    taps = taps.reshape([batch, out_channels, kernel_h * kernel_w, height, width])
    out = None
    for i in range(kernel_h):
        for j in range(kernel_w):
            plane = taps[:, :, i * kernel_w + j, i:i + out_h, j:j + out_w]
            out = plane if out is None else out + plane
    return out if bias is None else out + bias.reshape([1, out_channels, 1, 1])
