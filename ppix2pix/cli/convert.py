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

from ..checkpoint import save_checkpoint
from ..config import load_config, parse_override
from ..errors import ConfigError
from ..interop.foreign import assumptions, describe, foreign_checkpoint
from ..interop.layouts import FRAMEWORKS
from ..interop.paddlegan import save_paddlegan
from ..networks import DISCRIMINATORS, GENERATORS
from ..networks.norm import NORM_TYPES
from ..weights import load_checkpoint, save_safetensors
from .common import add_override_argument, flat_overrides, run_cli

# flag -> (network role, section key)
NETWORK_FLAGS = {
    "netG": ("generator", "name"), "ngf": ("generator", "ngf"), "input_nc": ("generator", "input_nc"),
    "output_nc": ("generator", "output_nc"), "use_dropout": ("generator", "use_dropout"),
    "netD": ("discriminator", "name"), "ndf": ("discriminator", "ndf"), "n_layers_D": ("discriminator", "n_layers"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="convert.py", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="IN", help="weights file to convert")
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--from", dest="source", choices=FRAMEWORKS, help="IN is a PyTorch or PaddleGAN file")
    way.add_argument("--to", dest="target", choices=tuple(TARGETS),
                     help="write IN's networks in PaddleGAN's layout, or its generator as safetensors")
    parser.add_argument("--out", required=True, metavar="OUT", help="file to write (.pdparams, .safetensors)")
    parser.add_argument("-c", "--config", help="take the networks and other settings from this config")
    add_override_argument(parser)
    parser.add_argument("--direction", help="AtoB or BtoA: which side of the training pairs the generator reads")
    arch = parser.add_argument_group("architecture (--from only; by default inferred from the weights)")
    arch.add_argument("--netG", choices=list(GENERATORS), help="generator type or preset (unet_256, resnet_9blocks...)")
    arch.add_argument("--norm", choices=NORM_TYPES, help="norm layers of both networks")
    arch.add_argument("--ngf", type=int, help="generator filters in the first conv")
    arch.add_argument("--input-nc", type=int, help="generator input channels")
    arch.add_argument("--output-nc", type=int, help="generator output channels")
    dropout = arch.add_mutually_exclusive_group()
    dropout.add_argument("--dropout", dest="use_dropout", action="store_true", default=None,
                         help="the generator was trained with dropout (reference pix2pix default)")
    dropout.add_argument("--no-dropout", dest="use_dropout", action="store_false",
                         help="the generator was trained without dropout (PaddleGAN's configs)")
    arch.add_argument("--netD", choices=list(DISCRIMINATORS), help="discriminator type (basic, n_layers, pixel...)")
    arch.add_argument("--ndf", type=int, help="discriminator filters in the first conv")
    arch.add_argument("--n-layers-D", type=int, help="PatchGAN layers (3 = 70x70 patches)")
    return parser


def network_overrides(args, overrides):
    """(generator keys, discriminator keys, other -o overrides) from the flags and the -o list."""
    sections = {"generator": {}, "discriminator": {}}
    rest = []
    for text in overrides:
        path, value = parse_override(text)
        if len(path) == 3 and path[0] == "model" and path[1] in sections:
            sections[path[1]][path[2]] = value
        else:
            rest.append(text)
    for flag, (section, key) in NETWORK_FLAGS.items():
        if getattr(args, flag) is not None:
            sections[section][key] = getattr(args, flag)
    if args.norm is not None:
        for section in sections.values():
            section["norm_type"] = args.norm
    return sections["generator"], sections["discriminator"], rest


def convert_foreign(args, overrides):
    """Write a ppix2pix checkpoint from a PyTorch/PaddleGAN file; returns the report lines."""
    generator, discriminator, rest = network_overrides(args, overrides)
    if args.direction is not None:
        rest.append(f"model.direction={args.direction}")
    cfg = load_config(args.config, rest)
    checkpoint = foreign_checkpoint(args.input, args.source, cfg, generator, discriminator,
                                    infer=args.config is None)
    save_checkpoint(checkpoint, args.out)
    model = checkpoint["config"]["model"]
    lines = [f"wrote {args.out} from {args.source} weights {args.input}",
             f"  generator:     {describe(model['generator'])}",
             "  discriminator: " + (describe(model["discriminator"]) if "netD" in checkpoint else "not in the file"),
             f"  direction {model['direction']}, test_mode {model['test_mode']}"]
    assumed = assumptions(checkpoint)
    if assumed:
        lines.append("  assumed (weights cannot tell; override with flags if wrong): " + "; ".join(assumed))
    return lines


def _checkpoint_to_write(args, overrides):
    """The checkpoint --to writes out as it is (network flags and -o apply to --from only)."""
    flags = [flag for flag in (*NETWORK_FLAGS, "norm", "direction") if getattr(args, flag) is not None]
    if flags or overrides:
        raise ConfigError(f"--to {args.target} writes the networks as they are; {', '.join(flags) or '-o'} apply to "
                          f"--from (convert first, then write {args.target})")
    return load_checkpoint(args.input, load_config(args.config) if args.config else None)


def convert_to_paddlegan(args, overrides):
    """Write the networks of any checkpoint ppix2pix can load in PaddleGAN's layout; returns the report lines."""
    state = _checkpoint_to_write(args, overrides)
    notes = save_paddlegan(state, args.out, args.input)
    written = "netG" + (", netD" if "netD" in state and not notes else "")
    return [f"wrote {args.out} ({written}) in PaddleGAN's layout from {args.input}"] + [f"  {n}" for n in notes]


def convert_to_safetensors(args, overrides):
    """Write the generator of any checkpoint ppix2pix can load, with its config, as safetensors."""
    save_safetensors(_checkpoint_to_write(args, overrides), args.out, args.input)
    return [f"wrote {args.out} (generator and config) as safetensors from {args.input}"]


TARGETS = {"paddlegan": convert_to_paddlegan, "safetensors": convert_to_safetensors}


def main(argv=None):
    """Convert; returns 0, or 2 after printing a one-line error."""
    args = build_parser().parse_args(argv)
    convert = convert_foreign if args.source else TARGETS[args.target]
    return run_cli(lambda: print("\n".join(convert(args, flat_overrides(args)))))


if __name__ == "__main__":
    sys.exit(main())
