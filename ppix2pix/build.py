"""The networks as ppix2pix's tools run them: built from a config section, then accelerated on CPU.

This is the one place that applies :func:`ppix2pix.accel.accelerate`; everything that builds a network to train or
run it comes through here.
"""
from . import networks
from .accel import accelerate


def generator(section):
    """The generator a config section (``model.generator``) describes, initialized and accelerated."""
    return accelerate(networks.build_generator(section))


def discriminator(section):
    """The discriminator a config section (``model.discriminator``) describes, initialized and accelerated."""
    return accelerate(networks.build_discriminator(section))
