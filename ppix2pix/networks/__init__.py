"""The pix2pix networks in plain Paddle: U-Net and ResNet generators, PatchGAN discriminators, their registry.

Nothing here knows about the CPU accelerator (:mod:`ppix2pix.accel`), which the model builder applies from outside.
"""
from .discriminators import NLayerDiscriminator, PixelDiscriminator, receptive_field
from .generators import ResnetGenerator, UnetGenerator
from .inference_mode import TEST_MODES, check_test_mode, inference_mode
from .registry import (DISCRIMINATORS, GENERATORS, INIT_DEFAULTS, build_discriminator, build_generator,
                       generator_size_multiple, network_defaults, resolve_section)
from .weight_init import init_weights

BN_STATISTICS = ("_mean", "_variance")


def learnable_parameters(net):
    """Parameters an optimizer updates: everything except BatchNorm running statistics.

    Selected by name, not by ``stop_gradient``, so a temporarily frozen network keeps its full list.
    """
    return [p for name, p in net.named_parameters() if name.rsplit(".", 1)[-1] not in BN_STATISTICS]


def count_parameters(net):
    """Number of learnable scalars in ``net`` (the figure papers and the reference report)."""
    return sum(int(p.size) for p in learnable_parameters(net))


__all__ = [
    "UnetGenerator", "ResnetGenerator", "NLayerDiscriminator", "PixelDiscriminator", "init_weights",
    "inference_mode", "check_test_mode", "TEST_MODES", "receptive_field", "build_generator", "build_discriminator",
    "generator_size_multiple", "learnable_parameters", "count_parameters", "network_defaults", "resolve_section",
    "GENERATORS", "DISCRIMINATORS", "INIT_DEFAULTS",
]
