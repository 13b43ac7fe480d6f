"""PatchGAN discriminators on the concatenation of the generator's input and an output (real or fake).

Receptive field by ``n_layers``: 0 -> 1x1 (PixelGAN), 1 -> 16x16, 2 -> 34x34, 3 -> 70x70 (the paper's default),
4 -> 142x142, 5 -> 286x286 (ImageGAN at 256x256). Outputs are logits, one per patch.
"""
import paddle.nn as nn

from .norm import conv_bias, norm_layer_factory

MAX_N_LAYERS = 5


class NLayerDiscriminator(nn.Layer):
    """PatchGAN: C64 (no norm) - C128 - ... - stride-1 conv - 1-channel logits; ``n_layers=0`` is the 1x1 PixelGAN.

    For n_layers 3 on a 256x256 pair the output is 1x30x30, each logit judging a 70x70 patch.
    """

    def __init__(self, input_nc=6, ndf=64, n_layers=3, norm_type="batch"):
        super().__init__()
        if not 0 <= n_layers <= MAX_N_LAYERS:
            raise ValueError(f"n_layers must be in 0..{MAX_N_LAYERS} (0=1x1, 1=16x16, 3=70x70, 5=286x286 patches), "
                             f"got {n_layers}")
        self.n_layers = n_layers
        if n_layers == 0:
            self.net = _pixel_layers(input_nc, ndf, norm_type)
        else:
            self.model = _patch_layers(input_nc, ndf, n_layers, norm_type)

    def forward(self, x):
        return self.net(x) if self.n_layers == 0 else self.model(x)


def _patch_layers(input_nc, ndf, n_layers, norm_type):
    """C64 (no norm) - C128 - ... - stride-1 conv - 1-channel logits."""
    norm = norm_layer_factory(norm_type)
    bias = conv_bias(norm_type)
    layers = [nn.Conv2D(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    channels = ndf
    for n in range(1, n_layers + 1):
        next_channels = ndf * min(2 ** n, 8)
        stride = 2 if n < n_layers else 1
        layers += [nn.Conv2D(channels, next_channels, 4, stride=stride, padding=1, bias_attr=bias),
                   norm(next_channels), nn.LeakyReLU(0.2)]
        channels = next_channels
    layers.append(nn.Conv2D(channels, 1, 4, stride=1, padding=1))
    return nn.Sequential(*layers)


class PixelDiscriminator(NLayerDiscriminator):
    """The paper's 1x1 PatchGAN ("PixelGAN"): every pixel is judged on its own colour."""

    def __init__(self, input_nc=6, ndf=64, norm_type="batch"):
        super().__init__(input_nc, ndf, n_layers=0, norm_type=norm_type)


def _pixel_layers(input_nc, ndf, norm_type):
    norm = norm_layer_factory(norm_type)
    bias = conv_bias(norm_type)
    return nn.Sequential(
        nn.Conv2D(input_nc, ndf, 1), nn.LeakyReLU(0.2),
        nn.Conv2D(ndf, ndf * 2, 1, bias_attr=bias), norm(ndf * 2), nn.LeakyReLU(0.2),
        nn.Conv2D(ndf * 2, 1, 1, bias_attr=bias))


def receptive_field(n_layers):
    """Side of the square input patch that one output logit sees, for an NLayerDiscriminator."""
    if n_layers == 0:
        return 1
    # Walk back from one output pixel: final 4x4 s1 conv, the s1 conv, then n_layers 4x4 s2 convs.
    field = 4
    for stride in [1] + [2] * n_layers:
        field = (field - 1) * stride + 4
    return field
