"""Normalizing the pieces of one image with statistics recorded once, for tiled inference.

A norm layer that normalizes with its input's own statistics (BatchNorm in the paper's test mode, InstanceNorm
always) gives each tile of a tiled image its own brightness and contrast. :func:`recorded_statistics` pools the
per-channel mean and variance each such layer sees over several forwards (every tile of an image); inside
:func:`fixed_statistics` those layers normalize every input with the pooled statistics instead of its own.
Both work from outside through forward hooks: the networks stay as the paper reads, and any other layer (dropout
included) behaves as its test-time mode says.
"""
import contextlib

import paddle
import paddle.nn as nn

from .inference_mode import inference_mode

PER_CHANNEL = [1, -1, 1, 1]  # NCHW


def uses_input_statistics(layer):
    """Whether ``layer``, in its current mode, normalizes with the statistics of its own input."""
    if isinstance(layer, nn.layer.norm._BatchNormBase):
        return layer.training and not layer._use_global_stats
    return isinstance(layer, nn.layer.norm._InstanceNormBase)


def normalizes_with_input_statistics(net, mode):
    """Whether some norm layer of ``net`` normalizes with its input's statistics in test-time mode ``mode``."""
    with inference_mode(net, mode):
        return any(uses_input_statistics(layer) for _, layer in _norm_layers(net))


def _norm_layers(net):
    return [(name, layer) for name, layer in net.named_sublayers(include_self=True)
            if isinstance(layer, (nn.layer.norm._BatchNormBase, nn.layer.norm._InstanceNormBase))]


@contextlib.contextmanager
def _hooks(layers, register):
    handles = [register(name, layer) for name, layer in layers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class StatisticsRecorder:
    """Per-channel statistics of the inputs of norm layers, pooled over every forward recorded (Chan et al.'s
    parallel update of count, mean and sum of squared deviations, which stays exact in float32)."""

    def __init__(self):
        self.pooled = {}  # layer name -> (count, mean, sum of squared deviations from the mean)

    def add(self, name, x):
        x = x.detach().astype("float32")
        count = x.shape[0] * x.shape[2] * x.shape[3]
        mean = x.mean([0, 2, 3])
        squares = paddle.square(x - mean.reshape(PER_CHANNEL)).sum([0, 2, 3])
        if name in self.pooled:
            before, before_mean, before_squares = self.pooled[name]
            total, delta = before + count, mean - before_mean
            mean = before_mean + delta * (count / total)
            squares = before_squares + squares + paddle.square(delta) * (before * count / total)
            count = total
        self.pooled[name] = (count, mean, squares)

    def statistics(self):
        """``{layer name: (mean, variance)}``: each layer's per-channel mean and (biased) variance over all the
        values it saw, as if every recorded input had been one batch."""
        return {name: (mean, squares / count) for name, (count, mean, squares) in self.pooled.items()}


@contextlib.contextmanager
def recorded_statistics(net):
    """Yield a :class:`StatisticsRecorder` that pools, over every forward of ``net`` inside the block, the input
    statistics of each norm layer that normalizes with its input's statistics in the mode it runs in."""
    recorder = StatisticsRecorder()

    def register(name, layer):
        def record(layer, inputs):
            if uses_input_statistics(layer):
                recorder.add(name, inputs[0])
        return layer.register_forward_pre_hook(record)

    with paddle.no_grad(), _hooks(_norm_layers(net), register):
        yield recorder


def normalize(layer, x, mean, variance):
    """``x`` normalized per channel with ``mean`` / ``variance`` and ``layer``'s epsilon and affine parameters."""
    out = (x.astype("float32") - mean.reshape(PER_CHANNEL)) * paddle.rsqrt(variance.reshape(PER_CHANNEL)
                                                                            + layer._epsilon)
    weight = layer.weight if isinstance(layer, nn.layer.norm._BatchNormBase) else layer.scale
    if weight is not None:
        out = out * weight.reshape(PER_CHANNEL)
    if layer.bias is not None:
        out = out + layer.bias.reshape(PER_CHANNEL)
    return out.astype(x.dtype)


@contextlib.contextmanager
def fixed_statistics(net, statistics):
    """Inside the block, the norm layers named in ``statistics`` (from :func:`recorded_statistics`) normalize every
    input with those statistics rather than the input's own."""
    def register(name, layer):
        mean, variance = statistics[name]
        return layer.register_forward_post_hook(lambda layer, inputs, output: normalize(layer, inputs[0], mean,
                                                                                         variance))

    with _hooks([(name, layer) for name, layer in _norm_layers(net) if name in statistics], register):
        yield
