"""Convert pix2pix weights between ppix2pix, the official PyTorch implementation and PaddleGAN (no PyTorch needed).

  tools/convert.py --from pytorch latest_net_G.pth --out facades_label2photo.pdparams --direction BtoA
  tools/convert.py --from paddlegan pix2pix_facades.pdparams --out facades.pdparams -c configs/facades.yaml
  tools/convert.py --to paddlegan output_dir/latest.pdparams --out netG_paddlegan.pdparams
  tools/convert.py --to safetensors output_dir/netG.pdparams --out facades.safetensors

--from writes a ppix2pix checkpoint (weights + resolved config) that tools/infer.py and load_generator use directly.
The networks are inferred from the weights (U-Net depth, ngf, channels, norm, ResNet blocks, PatchGAN layers);
what weights cannot tell (U-Net dropout: on for PyTorch files, off for PaddleGAN's; reflect vs replicate padding)
is printed as assumed. Flags override single settings; -c takes the networks from a config instead.
The direction is not stored in weights: the official facades_label2photo and map2sat models run BtoA.

--to paddlegan writes {'netG': ..., 'netD': ...} in PaddleGAN's layout from any checkpoint ppix2pix can load.
--to safetensors writes its generator with the config as metadata: the file to share, since loading it runs no
pickle; every tool takes it wherever it takes a checkpoint.
"""
import argparse
import sys

from ..choices import FRAMEWORKS, NORM_TYPES
from .common import add_override_argument, flat_overrides, run_cli

TARGET_FORMATS = ("paddlegan", "safetensors")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="IN", help="weights file to convert")
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--from", dest="source", choices=FRAMEWORKS, help="IN is a PyTorch or PaddleGAN file")
    way.add_argument("--to", dest="target", choices=TARGET_FORMATS,
                     help="write IN's networks in PaddleGAN's layout, or its generator as safetensors")
    parser.add_argument("--out", required=True, metavar="OUT", help="file to write (.pdparams, .safetensors)")
    parser.add_argument("-c", "--config", help="take the networks and other settings from this config")
    add_override_argument(parser)
    parser.add_argument("--direction", help="AtoB or BtoA: which side of the training pairs the generator reads")
    arch = parser.add_argument_group("architecture (--from only; by default inferred from the weights)")
    arch.add_argument("--netG", help="generator type or preset (unet_256, resnet_9blocks...)")
    arch.add_argument("--norm", choices=NORM_TYPES, help="norm layers of both networks")
    arch.add_argument("--ngf", type=int, help="generator filters in the first conv")
    arch.add_argument("--input-nc", type=int, help="generator input channels")
    arch.add_argument("--output-nc", type=int, help="generator output channels")
    dropout = arch.add_mutually_exclusive_group()
    dropout.add_argument("--dropout", dest="use_dropout", action="store_true", default=None,
                         help="the generator was trained with dropout (reference pix2pix default)")
    dropout.add_argument("--no-dropout", dest="use_dropout", action="store_false",
                         help="the generator was trained without dropout (PaddleGAN's configs)")
    arch.add_argument("--netD", help="discriminator type (basic, n_layers, pixel...)")
    arch.add_argument("--ndf", type=int, help="discriminator filters in the first conv")
    arch.add_argument("--n-layers-D", type=int, help="PatchGAN layers (3 = 70x70 patches)")
    return parser


def check_network_names(parser, args, generators, discriminators):
    """--netG / --netD against the network registry, which loads Paddle and so is asked only after parsing."""
    for flag, registry in (("netG", generators), ("netD", discriminators)):
        value = getattr(args, flag)
        if value is not None and value not in registry:
            parser.error(f"argument --{flag}: invalid choice: {value!r} (choose from {', '.join(registry)})")


def main(argv=None):
    """Convert; returns 0, or 2 after printing a one-line error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..networks import DISCRIMINATORS, GENERATORS  # Paddle loads here, once the arguments are parsed
    from .convert_run import TARGETS, convert_foreign
    check_network_names(parser, args, GENERATORS, DISCRIMINATORS)
    convert = convert_foreign if args.source else TARGETS[args.target]
    return run_cli(lambda: print("\n".join(convert(args, flat_overrides(args)))))


if __name__ == "__main__":
    sys.exit(main())
