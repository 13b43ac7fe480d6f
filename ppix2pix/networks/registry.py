"""Network names (the reference's ``--netG`` / ``--netD`` presets included), their config sections, and builders.

A section is ``{name: ..., <constructor arguments>..., init_type, init_gain}``. :func:`resolve_section` is the one
place that checks it; the config and the builders both use it.
"""
import difflib
import inspect

from ..errors import ConfigError
from .discriminators import NLayerDiscriminator, PixelDiscriminator
from .generators import ResnetGenerator, UnetGenerator
from .weight_init import init_weights

# name -> (class, fixed arguments)
GENERATORS = {
    "UnetGenerator": (UnetGenerator, {}),
    "ResnetGenerator": (ResnetGenerator, {}),
    "unet_256": (UnetGenerator, {"num_downs": 8}),
    "unet_128": (UnetGenerator, {"num_downs": 7}),
    "resnet_9blocks": (ResnetGenerator, {"n_blocks": 9}),
    "resnet_6blocks": (ResnetGenerator, {"n_blocks": 6}),
}
DISCRIMINATORS = {
    "NLayerDiscriminator": (NLayerDiscriminator, {}),
    "PixelDiscriminator": (PixelDiscriminator, {}),
    "basic": (NLayerDiscriminator, {"n_layers": 3}),
    "n_layers": (NLayerDiscriminator, {}),
    "pixel": (PixelDiscriminator, {}),
}
INIT_DEFAULTS = {"init_type": "normal", "init_gain": 0.02}


def network_defaults(registry, name):
    """Every config key a network of this name takes, with its default (preset values included)."""
    cls, fixed = registry[name]
    parameters = inspect.signature(cls.__init__).parameters
    defaults = {key: fixed.get(key, p.default) for key, p in parameters.items() if key != "self"}
    return {**defaults, **INIT_DEFAULTS}


def resolve_section(registry, section, key, default_name=None):
    """``section`` with its name and every argument filled in, after checking it; ``key`` (e.g.
    ``model.generator``) names the section in errors."""
    section = dict(section or {})
    kind = key.rsplit(".", 1)[-1]
    name = section.get("name", default_name)
    if name not in registry:
        hint = difflib.get_close_matches(str(name), list(registry), n=1)
        raise ConfigError(f"{key}.name: unknown {kind} name {name!r}; choose one of {', '.join(registry)}"
                          + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    defaults = network_defaults(registry, name)
    fixed = registry[name][1]
    for sub, value in section.items():
        if sub != "name" and sub not in defaults:
            hint = difflib.get_close_matches(str(sub), list(defaults), n=1)
            raise ConfigError(f"unknown config key '{key}.{sub}': {name} does not take {sub}"
                              + (f"; did you mean '{key}.{hint[0]}'?" if hint else "")
                              + f" (valid for {name}: {', '.join(defaults)})")
        if sub in fixed and value != fixed[sub]:
            raise ConfigError(f"{key}: {name} fixes {sub}={fixed[sub]}, but the config sets {sub}={value}; "
                              f"drop {sub} or use the general {kind} name")
    return {"name": name, **defaults, **section}


def _build(registry, section, kind):
    arguments = resolve_section(registry, section, kind)
    cls, _ = registry[arguments.pop("name")]
    init_args = {key: arguments.pop(key) for key in INIT_DEFAULTS}
    return init_weights(cls(**arguments), **init_args)


def build_generator(section):
    """Build and initialize a generator from a config section like ``{name: UnetGenerator, num_downs: 8, ...}``."""
    return _build(GENERATORS, section, "generator")


def build_discriminator(section):
    """Build and initialize a discriminator from ``{name: NLayerDiscriminator, n_layers: 3, ...}``."""
    return _build(DISCRIMINATORS, section, "discriminator")


def generator_size_multiple(section):
    """H and W of the input of the generator a section builds must be multiples of this."""
    arguments = resolve_section(GENERATORS, section, "generator")
    return GENERATORS[arguments["name"]][0].input_multiple(arguments)
