"""Weight initialization of the reference implementation."""
import paddle.nn as nn
from paddle.nn import initializer

INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def _weight_initializer(init_type, gain):
    if init_type == "normal":
        return initializer.Normal(0.0, gain)
    if init_type == "xavier":
        return initializer.XavierNormal(gain=gain)
    if init_type == "kaiming":
        return initializer.KaimingNormal(nonlinearity="relu")
    if init_type == "orthogonal":
        return initializer.Orthogonal(gain=gain)
    raise ValueError(f"init_type must be one of {', '.join(INIT_TYPES)}, got {init_type!r}")


def init_weights(net, init_type="normal", init_gain=0.02):
    """Conv weights ~ init_type (default N(0, 0.02)), biases 0; BatchNorm gamma ~ N(1, init_gain), beta 0."""
    weight_init = _weight_initializer(init_type, init_gain)
    zeros = initializer.Constant(0.0)
    for layer in net.sublayers(include_self=True):
        if isinstance(layer, (nn.Conv2D, nn.Conv2DTranspose, nn.Linear)):
            weight_init(layer.weight)
            if layer.bias is not None:
                zeros(layer.bias)
        elif isinstance(layer, nn.BatchNorm2D):
            initializer.Normal(1.0, init_gain)(layer.weight)
            zeros(layer.bias)
    return net
