"""pix2pix generators: the U-Net of the paper and the ResNet generator of the reference implementation.

The layer nesting and indices mirror the reference, so parameter names correspond one to one with official PyTorch
and PaddleGAN weights (``model.model.1.model.3.weight`` ...).
"""
import paddle
import paddle.nn as nn

from .norm import conv_bias, norm_layer_factory


def check_spatial_multiple(x, multiple, network):
    """Raise a clear error when the input's H or W is not a multiple of ``multiple`` (skipped for symbolic shapes)."""
    height, width = x.shape[-2], x.shape[-1]
    if not all(isinstance(size, int) and size > 0 for size in (height, width)):
        return
    if height % multiple or width % multiple:
        raise ValueError(
            f"{network} needs input height and width that are multiples of {multiple}, got {height}x{width}. "
            f"Crop/resize to a multiple of {multiple}, or let ppix2pix pad or resize for you "
            f"(tools/infer.py --size-mode pad|resize).")


class UnetSkipConnectionBlock(nn.Layer):
    """One level of the U-Net: down conv, the nested sub-block, up conv; non-outermost levels add a skip concat."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, innermost=False,
                 norm_type="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        norm = norm_layer_factory(norm_type)
        bias = conv_bias(norm_type)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2D(input_nc, inner_nc, 4, stride=2, padding=1, bias_attr=bias)
        downrelu = nn.LeakyReLU(0.2)
        uprelu = nn.ReLU()

        if outermost:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.Conv2DTranspose(inner_nc, outer_nc, 4, stride=2, padding=1, bias_attr=bias)
            layers = [downrelu, downconv, uprelu, upconv, norm(outer_nc)]
        else:
            upconv = nn.Conv2DTranspose(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias_attr=bias)
            layers = [downrelu, downconv, norm(inner_nc), submodule, uprelu, upconv, norm(outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return paddle.concat([x, self.model(x)], axis=1)  # the skip connection


class UnetGenerator(nn.Layer):
    """U-Net generator with ``num_downs`` stride-2 levels (8 = unet_256, 7 = unet_128).

    Dropout(0.5) follows the up-norm of the ``num_downs - 5`` ngf*8 blocks above the innermost one, as in the paper.
    Input height and width must be multiples of ``2 ** num_downs``.
    """

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm_type="batch", use_dropout=True):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"UnetGenerator needs num_downs >= 5 (got {num_downs}); unet_256 uses 8, unet_128 7")
        self.input_nc, self.output_nc, self.num_downs = input_nc, output_nc, num_downs
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, norm_type=norm_type)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm_type=norm_type,
                                            use_dropout=use_dropout)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, norm_type=norm_type)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, norm_type=norm_type)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, norm_type=norm_type)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                                             norm_type=norm_type)

    @staticmethod
    def input_multiple(arguments):
        """Input H and W must be multiples of this for a U-Net built with ``arguments``: one halving per level."""
        return 2 ** arguments["num_downs"]

    @property
    def size_multiple(self):
        """Input H and W must be multiples of this."""
        return self.input_multiple({"num_downs": self.num_downs})

    def forward(self, x):
        check_spatial_multiple(x, self.size_multiple, f"UnetGenerator(num_downs={self.num_downs})")
        return self.model(x)


PADDING_TYPES = ("reflect", "replicate", "zero")


class ResnetBlock(nn.Layer):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)."""

    def __init__(self, dim, padding_type="reflect", norm_type="instance", use_dropout=False):
        super().__init__()
        if padding_type not in PADDING_TYPES:
            raise ValueError(f"padding_type must be one of {', '.join(PADDING_TYPES)}, got {padding_type!r}")
        norm = norm_layer_factory(norm_type)
        bias = conv_bias(norm_type)

        def padded_conv():
            if padding_type == "zero":
                return [nn.Conv2D(dim, dim, 3, padding=1, bias_attr=bias)]
            return [nn.Pad2D(1, mode=padding_type), nn.Conv2D(dim, dim, 3, bias_attr=bias)]

        layers = padded_conv() + [norm(dim), nn.ReLU()]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += padded_conv() + [norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Layer):
    """ResNet generator: c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings, c7s1.

    Input height and width must be multiples of 4.
    """

    size_multiple = 4

    @staticmethod
    def input_multiple(arguments):
        """Input H and W must be multiples of this: two stride-2 downsamplings, whatever the arguments."""
        return ResnetGenerator.size_multiple

    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm_type="instance", use_dropout=True, n_blocks=9,
                 padding_type="reflect"):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        self.input_nc, self.output_nc = input_nc, output_nc
        norm = norm_layer_factory(norm_type)
        bias = conv_bias(norm_type)
        layers = [nn.Pad2D(3, mode="reflect"), nn.Conv2D(input_nc, ngf, 7, bias_attr=bias), norm(ngf), nn.ReLU()]
        for i in range(2):
            channels = ngf * 2 ** i
            layers += [nn.Conv2D(channels, channels * 2, 3, stride=2, padding=1, bias_attr=bias),
                       norm(channels * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4, padding_type, norm_type, use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            channels = ngf * 2 ** (2 - i)
            layers += [nn.Conv2DTranspose(channels, channels // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias_attr=bias),
                       norm(channels // 2), nn.ReLU()]
        layers += [nn.Pad2D(3, mode="reflect"), nn.Conv2D(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        check_spatial_multiple(x, self.size_multiple, "ResnetGenerator")
        return self.model(x)
