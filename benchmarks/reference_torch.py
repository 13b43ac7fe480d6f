"""PyTorch versions of the pix2pix networks, built to the reference implementation's architecture (DESIGN.md).

Module nesting and layer indices follow the reference exactly, so ``state_dict()`` keys are those of the official
checkpoints (``model.model.1.model.3.weight``, ``model.12.conv_block.5.weight``, ``net.3.running_mean`` ...).
Used to make the interop test fixtures (tests/fixtures/make_torch_fixtures.py) and by PyTorch benchmarks.

Needs PyTorch, which ppix2pix itself never imports: run with a separate environment, e.g.
``python3 -m venv TORCH_VENV && TORCH_VENV/bin/pip install torch==2.13.0 numpy pillow``, then point
``TORCH_PYTHON`` at ``TORCH_VENV/bin/python``.
"""
import torch
from torch import nn

NORM_TYPES = ("batch", "instance", "none")


def norm_layer(norm_type, channels):
    """BatchNorm (affine, running statistics), InstanceNorm (no affine, no running statistics) or identity."""
    if norm_type == "batch":
        return nn.BatchNorm2d(channels)
    if norm_type == "instance":
        return nn.InstanceNorm2d(channels)
    if norm_type == "none":
        return nn.Identity()
    raise ValueError(f"norm_type must be one of {', '.join(NORM_TYPES)}, got {norm_type!r}")


def conv_bias(norm_type):
    """The reference gives norm-dependent convs a bias only with instance norm (not with batch or none)."""
    return norm_type == "instance"


class UnetBlock(nn.Module):
    """One U-Net level: [LReLU, down conv, norm, sub-block, ReLU, up conv, norm, (dropout)], skip concat."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False, norm_type="batch",
                 use_dropout=False):
        super().__init__()
        self.outermost = outermost
        innermost = submodule is None
        bias = conv_bias(norm_type)
        input_nc = outer_nc if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        up_in = inner_nc if innermost else inner_nc * 2
        if outermost:
            layers = [down, submodule, nn.ReLU(), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1),
                      nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2), down, nn.ReLU(),
                      nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=bias),
                      norm_layer(norm_type, outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2), down, norm_layer(norm_type, inner_nc), submodule, nn.ReLU(),
                      nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=bias),
                      norm_layer(norm_type, outer_nc)]
            if use_dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` levels (8 = unet_256); dropout in the num_downs - 5 blocks above the innermost."""

    def __init__(self, input_nc=3, output_nc=3, num_downs=8, ngf=64, norm_type="batch", use_dropout=True):
        super().__init__()
        block = UnetBlock(ngf * 8, ngf * 8, norm_type=norm_type)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, submodule=block, norm_type=norm_type, use_dropout=use_dropout)
        for outer in (4, 2, 1):
            block = UnetBlock(ngf * outer, ngf * outer * 2, submodule=block, norm_type=norm_type)
        self.model = UnetBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True,
                               norm_type=norm_type)

    def forward(self, x):
        return self.model(x)


def _padded_conv(dim, padding_type, bias):
    if padding_type == "zero":
        return [nn.Conv2d(dim, dim, 3, padding=1, bias=bias)]
    pad = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d}[padding_type](1)
    return [pad, nn.Conv2d(dim, dim, 3, bias=bias)]


class ResnetBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, (dropout), pad, conv3x3, norm](x)."""

    def __init__(self, dim, padding_type, norm_type, use_dropout):
        super().__init__()
        bias = conv_bias(norm_type)
        layers = _padded_conv(dim, padding_type, bias) + [norm_layer(norm_type, dim), nn.ReLU()]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += _padded_conv(dim, padding_type, bias) + [norm_layer(norm_type, dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings, c7s1 + Tanh."""

    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm_type="instance", use_dropout=False, n_blocks=9,
                 padding_type="reflect"):
        super().__init__()
        bias = conv_bias(norm_type)
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(norm_type, ngf),
                  nn.ReLU()]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias),
                       norm_layer(norm_type, ngf * mult * 2), nn.ReLU()]
        layers += [ResnetBlock(ngf * 4, padding_type, norm_type, use_dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=bias),
                       norm_layer(norm_type, ngf * mult // 2), nn.ReLU()]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: C(ndf) with bias, LReLU; n_layers - 1 stride-2 convs and one stride-1 conv with norm; 1-channel
    stride-1 conv (logits)."""

    def __init__(self, input_nc=6, ndf=64, n_layers=3, norm_type="batch"):
        super().__init__()
        bias = conv_bias(norm_type)
        layers = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2 ** n, 8)
            layers += [nn.Conv2d(channels, out, 4, stride=2 if n < n_layers else 1, padding=1, bias=bias),
                       norm_layer(norm_type, out), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ("PixelGAN"): 1x1 convs ndf (bias), LReLU, 2*ndf, norm, LReLU, 1."""

    def __init__(self, input_nc=6, ndf=64, norm_type="batch"):
        super().__init__()
        bias = conv_bias(norm_type)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), norm_layer(norm_type, ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x):
        return self.net(x)


def init_weights(net, gain=0.02):
    """The reference's 'normal' init: conv weights ~ N(0, gain), biases 0; BatchNorm weight ~ N(1, gain), bias 0."""
    for module in net.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
    return net


def train_step_function(generator, discriminator, lr=2e-4, l1_weight=100.0):
    """A callable ``step(real_input, real_target)`` doing one pix2pix iteration as the official code does: G
    forward; D step on (detached fake, real) with the loss halved; G step (GAN + lambda * L1) through the updated D,
    which gets no gradient. Adam(lr, 0.5, 0.999); BCE-with-logits GAN loss. Returns the loss terms as floats."""
    optim_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    optim_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    gan_loss = nn.BCEWithLogitsLoss()

    def step(real_input, real_target):
        fake = generator(real_input)
        for parameter in discriminator.parameters():
            parameter.requires_grad_(True)
        pred_fake = discriminator(torch.cat([real_input, fake.detach()], 1))
        loss_d_fake = gan_loss(pred_fake, torch.zeros_like(pred_fake))
        pred_real = discriminator(torch.cat([real_input, real_target], 1))
        loss_d_real = gan_loss(pred_real, torch.ones_like(pred_real))
        loss_d = 0.5 * (loss_d_fake + loss_d_real)
        optim_d.zero_grad()
        loss_d.backward()
        optim_d.step()
        for parameter in discriminator.parameters():
            parameter.requires_grad_(False)
        pred_fake = discriminator(torch.cat([real_input, fake], 1))
        loss_g_gan = gan_loss(pred_fake, torch.ones_like(pred_fake))
        loss_g_l1 = l1_weight * nn.functional.l1_loss(fake, real_target)
        loss_g = loss_g_gan + loss_g_l1
        optim_g.zero_grad()
        loss_g.backward()
        optim_g.step()
        return {"G_GAN": loss_g_gan.item(), "G_L1": loss_g_l1.item(), "D_real": loss_d_real.item(),
                "D_fake": loss_d_fake.item()}

    return step


def benchmark(argv=None):
    """``--benchmark``: s/iteration of the full step (unet_256 + 70x70 D) at each batch size, or with ``--infer``
    ms/image of the U-Net in eval mode under no_grad. Prints one JSON line per batch size."""
    import argparse
    import json
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_common as bench
    parser = argparse.ArgumentParser(description="PyTorch reference timings of the pix2pix step / inference")
    parser.add_argument("--benchmark", action="store_true", required=True)
    parser.add_argument("--infer", action="store_true", help="time generator inference instead of training")
    parser.add_argument("--batch-sizes", type=int, nargs="+")
    parser.add_argument("--generator", choices=("unet_256", "resnet_9blocks"), default="unet_256",
                        help="generator (resnet_9blocks with dropout, as ppix2pix's default ResNet config)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--serve", action="store_true",
                        help="train step of the first batch size on request (worker of compare.py --paired-steps)")
    args = parser.parse_args(argv)
    batch_sizes = args.batch_sizes or ([1, 8] if args.infer else [1, 4])
    torch.manual_seed(0)
    generator = init_weights(UnetGenerator(num_downs=8) if args.generator == "unet_256"
                             else ResnetGenerator(use_dropout=True, n_blocks=9))
    discriminator = init_weights(NLayerDiscriminator(n_layers=3))
    for batch_size in batch_sizes:
        real_input = torch.rand(batch_size, 3, args.size, args.size) * 2 - 1
        real_target = torch.rand(batch_size, 3, args.size, args.size) * 2 - 1
        if args.infer:
            generator.eval()

            def run():
                with torch.no_grad():
                    generator(real_input)
        else:
            generator.train()
            train_step = train_step_function(generator, discriminator)

            def run():
                train_step(real_input, real_target)
            if args.serve:
                bench.serve_steps(run, args.warmup)
                return
        counters = {}
        times = bench.time_calls(run, args.repeats, args.warmup, counters)
        result = {"framework": "torch", "torch": torch.__version__, "generator": args.generator, "batch": batch_size,
                  **counters, "peak_rss_mb": bench.peak_rss_mb(), "math_threads": torch.get_num_threads(),
                  "process_threads": bench.process_threads(), "times": [round(t, 4) for t in times]}
        if args.infer:
            result["ms_per_image"] = round(1000 * bench.summarize(times)["median"] / batch_size, 2)
        else:
            result["s_per_iter"] = bench.summarize(times)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    benchmark()
