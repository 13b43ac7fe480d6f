"""Test-time behaviour of a generator: the paper's mode or the usual eval mode, chosen explicitly."""
import contextlib

import paddle.nn as nn

from ..choices import TEST_MODES  # noqa: F401  (re-exported)


def check_test_mode(mode, error=ValueError):
    """Return ``mode`` when it is a test-time mode, else raise ``error`` (a ValueError subclass) naming the modes."""
    if mode not in TEST_MODES:
        raise error(f"test-time mode must be one of {', '.join(TEST_MODES)}, got {mode!r}")
    return mode


def batch_norm_layers(net):
    """The BatchNorm layers of ``net`` (those that keep running statistics)."""
    return [layer for layer in net.sublayers(include_self=True) if isinstance(layer, nn.layer.norm._BatchNormBase)]


@contextlib.contextmanager
def restored_modes(net):
    """Inside the block the layers' training flags and the BatchNorm momenta of ``net`` may change; afterwards they
    are what they were before. Yields the BatchNorm layers."""
    layers = net.sublayers(include_self=True)
    previous_training = [layer.training for layer in layers]
    batch_norms = batch_norm_layers(net)
    previous_momentum = [layer._momentum for layer in batch_norms]
    try:
        yield batch_norms
    finally:
        for layer, training in zip(layers, previous_training):
            layer.training = training
        for layer, momentum in zip(batch_norms, previous_momentum):
            layer._momentum = momentum


@contextlib.contextmanager
def inference_mode(net, mode):
    """Run ``net`` in the given test-time mode inside the ``with`` block, then restore its previous state.

    * ``paper``: as in the paper and the reference default, dropout stays on and BatchNorm normalizes with the test
      batch's own statistics; the stored running statistics are left untouched.
    * ``eval``: dropout off, BatchNorm uses the running statistics gathered in training (deterministic).
    """
    check_test_mode(mode)
    with restored_modes(net) as batch_norms:
        if mode == "paper":
            net.train()
            for layer in batch_norms:
                layer._momentum = 1.0  # running = 1.0 * running + 0.0 * batch: statistics stay as trained
        else:
            net.eval()
        yield net
