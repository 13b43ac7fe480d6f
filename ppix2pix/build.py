"""The networks as ppix2pix's tools run them: built from a config section, then accelerated on CPU.

This is the only module that knows the accelerator (:mod:`ppix2pix.accel`): it applies
:func:`~ppix2pix.accel.accelerate` to every network it builds and hands the training step the accelerator's two
blocks. Without the ``accel`` package (deleted, or left out of a build) everything runs Paddle's plain layers.
"""
import contextlib
import importlib.util

from . import networks

if importlib.util.find_spec(f"{__package__}.accel") is not None:
    from . import accel
else:
    accel = None


def generator(section):
    """The generator a config section (``model.generator``) describes, initialized and accelerated."""
    return _accelerated(networks.build_generator(section))


def discriminator(section):
    """The discriminator a config section (``model.discriminator``) describes, initialized and accelerated."""
    return _accelerated(networks.build_discriminator(section))


def _accelerated(net):
    return accel.accelerate(net) if accel else net


def recorded_backward():
    """The block in which a training step's ``loss.backward()`` also runs the accelerated backward passes."""
    return accel.recorded_backward() if accel else contextlib.nullcontext()


def plain_layers():
    """The block in which accelerated networks run their plain Paddle layers (for double backward)."""
    return accel.plain_layers() if accel else contextlib.nullcontext()


def acceleration_summary():
    """One line for the start-up log: which CPU fast forms are on."""
    return accel.fast_layers_summary() if accel else "CPU fast layers: not installed (ppix2pix.accel is absent)"
