"""``accelerate(net)``: swap a built network's layers, in place, for their CPU fast forms (:mod:`.layers`)."""
import paddle.nn as nn

from ..networks.discriminators import NLayerDiscriminator
from ..networks.generators import UnetGenerator, UnetSkipConnectionBlock
from ..networks.norm import BatchNorm2D, Identity
from . import layers

# Plain layer type -> its fast form (a subclass with the same parameters). Only exact types are swapped, so a
# subclass someone wrote with its own forward is left alone.
FAST_FORMS = {
    nn.Conv2D: layers.Conv2D,
    nn.Conv2DTranspose: layers.Conv2DTranspose,
    nn.ReLU: layers.ReLU,
    nn.LeakyReLU: layers.LeakyReLU,
    nn.Pad2D: layers.Pad2D,
    BatchNorm2D: layers.BatchNorm2D,
    UnetSkipConnectionBlock: layers.SkipConnectionBlock,
}
# Layers that pass a channels-last activation on as it lies: their fast forms keep NHWC memory, or they are
# element-wise, or containers whose forward only chains their sublayers. A network made only of these runs
# channels-last; any other layer (InstanceNorm, padding, a residual add) keeps the network in NCHW.
KEEPS_CHANNELS_LAST = (UnetGenerator, UnetSkipConnectionBlock, NLayerDiscriminator, nn.Sequential, nn.Conv2D,
                       nn.Conv2DTranspose, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Dropout, BatchNorm2D, Identity)


def accelerate(net):
    """Give every layer of ``net`` its CPU fast form, and channels-last activations where the whole network keeps
    them. Parameters, state-dict keys and results stay those of the plain network. Returns ``net``."""
    members = net.sublayers(include_self=True)
    for layer in members:
        fast_form = FAST_FORMS.get(type(layer))
        if fast_form is layers.Conv2D and layers.FewOutputConv2D.serves(layer):
            fast_form = layers.FewOutputConv2D
        if fast_form is not None:
            layer.__class__ = fast_form
    if all(isinstance(layer, KEEPS_CHANNELS_LAST) for layer in members):
        layers.use_channels_last(net)
    return net
