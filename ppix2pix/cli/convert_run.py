"""The work of tools/convert.py (ppix2pix/cli/convert.py parses its arguments first): read, rename, write."""
from ..checkpoint import save_checkpoint
from ..config import load_config, parse_override
from ..errors import ConfigError
from ..interop.foreign import assumptions, describe, foreign_checkpoint
from ..interop.paddlegan import save_paddlegan
from ..weights import load_checkpoint, save_safetensors

# flag -> (network role, section key)
NETWORK_FLAGS = {
    "netG": ("generator", "name"), "ngf": ("generator", "ngf"), "input_nc": ("generator", "input_nc"),
    "output_nc": ("generator", "output_nc"), "use_dropout": ("generator", "use_dropout"),
    "netD": ("discriminator", "name"), "ndf": ("discriminator", "ndf"), "n_layers_D": ("discriminator", "n_layers"),
}


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
