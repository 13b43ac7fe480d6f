"""Networks, losses and builders. ``build_generator`` / ``build_discriminator`` take a config section (a dict)."""
import inspect

from .discriminators import NLayerDiscriminator, PixelDiscriminator, receptive_field
from .generators import ResnetGenerator, UnetGenerator
from .init import init_weights
from .losses import GAN_MODES, GANLoss, gradient_penalty
from .inference_mode import TEST_MODES, inference_mode

# name -> (class, fixed arguments). Preset names are the reference's --netG / --netD values.
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
BN_STATISTICS = ("_mean", "_variance")


INIT_DEFAULTS = {"init_type": "normal", "init_gain": 0.02}


def network_defaults(registry, name):
    """Every config key a network of this name takes, with its default (preset values included)."""
    cls, fixed = registry[name]
    parameters = inspect.signature(cls.__init__).parameters
    defaults = {key: fixed.get(key, p.default) for key, p in parameters.items() if key != "self"}
    return {**defaults, **INIT_DEFAULTS}


def _build(registry, section, kind):
    section = dict(section)
    name = section.pop("name", None)
    if name not in registry:
        raise ValueError(f"unknown {kind} name {name!r}; choose one of {', '.join(registry)}")
    cls, fixed = registry[name]
    init_args = {key: section.pop(key) for key in INIT_DEFAULTS if key in section}
    for key, value in fixed.items():
        if key in section and section[key] != value:
            raise ValueError(f"{kind} {name} fixes {key}={value}, but the config sets {key}={section[key]}")
        section[key] = value
    unknown = set(section) - set(inspect.signature(cls.__init__).parameters)
    if unknown:
        raise ValueError(f"{kind} {name} does not take {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(network_defaults(registry, name))}")
    return init_weights(cls(**section), **init_args)


def build_generator(section):
    """Build and initialize a generator from a config section like ``{name: UnetGenerator, num_downs: 8, ...}``."""
    return _build(GENERATORS, section, "generator")


def build_discriminator(section):
    """Build and initialize a discriminator from ``{name: NLayerDiscriminator, n_layers: 3, ...}``."""
    return _build(DISCRIMINATORS, section, "discriminator")


def generator_size_multiple(section):
    """H and W of a generator's input must be multiples of this (2**num_downs for U-Nets, 4 for ResNets)."""
    cls, fixed = GENERATORS[section["name"]]
    if cls is UnetGenerator:
        return 2 ** fixed.get("num_downs", section.get("num_downs", 8))
    return cls.size_multiple


def learnable_parameters(net):
    """Parameters an optimizer updates: everything except BatchNorm running statistics.

    Selected by name, not by ``stop_gradient``, so a temporarily frozen network keeps its full list.
    """
    return [p for name, p in net.named_parameters() if name.rsplit(".", 1)[-1] not in BN_STATISTICS]


def count_parameters(net):
    """Number of learnable scalars in ``net`` (the figure papers and the reference report)."""
    return sum(int(p.size) for p in learnable_parameters(net))


__all__ = [
    "UnetGenerator", "ResnetGenerator", "NLayerDiscriminator", "PixelDiscriminator", "GANLoss", "GAN_MODES",
    "gradient_penalty", "init_weights", "inference_mode", "TEST_MODES", "receptive_field", "build_generator",
    "build_discriminator", "generator_size_multiple", "learnable_parameters", "count_parameters", "network_defaults", "GENERATORS",
    "DISCRIMINATORS",
]
