"""Recognize a pix2pix network from its weights alone and describe it as a ppix2pix config section.

The weights' keys must already be ppix2pix's (see :mod:`.layouts`). What the weights determine:

* U-Net (``model.model.0.weight``): num_downs (nesting depth), ngf, input_nc, output_nc, norm_type. Not use_dropout:
  dropout has no weights.
* ResNet (``model.1.weight``, 7x7): n_blocks, ngf, input_nc, output_nc, norm_type, use_dropout
  and zero padding (both shift layer indices). Not reflect vs replicate padding.
* NLayer PatchGAN (``model.0.weight``): n_layers, ndf, input_nc, norm_type. Pixel PatchGAN (``net.0.weight``): ndf,
  input_nc, norm_type.
* norm_type: batch when the norm layers carry an affine weight; otherwise instance when the convs before them carry
  biases, none when they do not (the reference and PaddleGAN give convs a bias only with instance norm).

What the weights cannot tell is filled from framework defaults and reported as assumed.
"""
import collections
import re

from ..errors import ArchitectureError

Inferred = collections.namedtuple("Inferred", "section assumed")
Inferred.__doc__ = """A config section inferred from weights; ``assumed`` maps the keys not determined to why."""

GENERATOR_KINDS = ("UnetGenerator", "ResnetGenerator")


def network_kind(weights):
    """'UnetGenerator', 'ResnetGenerator', 'NLayerDiscriminator', 'PixelDiscriminator' or None."""
    if "model.model.0.weight" in weights:
        return "UnetGenerator"
    if "model.1.weight" in weights and tuple(weights["model.1.weight"].shape[2:]) == (7, 7):
        return "ResnetGenerator"
    if "model.0.weight" in weights and len(weights["model.0.weight"].shape) == 4:
        return "NLayerDiscriminator"
    if "net.0.weight" in weights:
        return "PixelDiscriminator"
    return None


def network_role(weights):
    """'netG' for generator weights, 'netD' for discriminator weights, None for anything else."""
    kind = network_kind(weights)
    if kind is None:
        return None
    return "netG" if kind in GENERATOR_KINDS else "netD"


def _shape(weights, key, kind):
    if key not in weights:
        raise ArchitectureError(f"{kind} weights lack {key!r}; found {_sample(weights)}")
    return tuple(weights[key].shape)


def _sample(weights):
    keys = sorted(weights)
    return ", ".join(keys[:6]) + (f", ... ({len(keys)} keys)" if len(keys) > 6 else "")


def _norm_type(weights, norm_layer, conv):
    if f"{norm_layer}.weight" in weights:
        return "batch"
    return "instance" if f"{conv}.bias" in weights else "none"


def _unet(weights, defaults):
    ngf, input_nc = _shape(weights, "model.model.0.weight", "U-Net")[:2]
    output_nc = _shape(weights, "model.model.3.weight", "U-Net")[1]  # ConvTranspose: [in, out, kH, kW]
    num_downs, block = 1, "model.model.1"
    while f"{block}.model.1.weight" in weights:
        num_downs += 1
        block += ".model.3"
    section = {"name": "UnetGenerator", "input_nc": input_nc, "output_nc": output_nc, "num_downs": num_downs,
               "ngf": ngf, "norm_type": _norm_type(weights, "model.model.1.model.2", "model.model.1.model.1"),
               "use_dropout": defaults["use_dropout"]}
    return Inferred(section, {"use_dropout": "dropout layers have no weights"})


def _resnet(weights, defaults):
    ngf, input_nc = _shape(weights, "model.1.weight", "ResNet")[:2]
    blocks = sorted({int(m.group(1)) for m in map(re.compile(r"model\.(\d+)\.conv_block\.").match, weights) if m})
    if blocks != list(range(10, 10 + len(blocks))):
        raise ArchitectureError(f"ResNet weights with residual blocks at unexpected positions {blocks}")
    first = f"model.{blocks[0]}.conv_block" if blocks else None
    assumed = {}
    if first is None:
        padding, dropout = defaults["padding_type"], defaults["use_dropout"]
        assumed.update(padding_type="no residual blocks", use_dropout="no residual blocks")
    else:
        zero = f"{first}.0.weight" in weights
        second = [int(m.group(1)) for m in map(re.compile(rf"{re.escape(first)}\.(\d+)\.weight").match, weights)
                  if m and int(m.group(1)) >= 3]
        padding = "zero" if zero else defaults["padding_type"]
        if not zero:
            assumed["padding_type"] = "reflect and replicate padding have no weights"
        dropout = bool(second) and min(second) == (4 if zero else 6)
    section = {"name": "ResnetGenerator", "input_nc": input_nc,
               "output_nc": _shape(weights, f"model.{17 + len(blocks)}.weight", "ResNet")[0], "ngf": ngf,
               "norm_type": _norm_type(weights, "model.2", "model.1"), "use_dropout": dropout,
               "n_blocks": len(blocks), "padding_type": padding}
    return Inferred(section, assumed)


def _nlayer(weights, defaults):
    ndf, input_nc = _shape(weights, "model.0.weight", "PatchGAN")[:2]
    convs = [key for key in weights if re.fullmatch(r"model\.\d+\.weight", key) and len(weights[key].shape) == 4]
    section = {"name": "NLayerDiscriminator", "input_nc": input_nc, "ndf": ndf, "n_layers": len(convs) - 2,
               "norm_type": _norm_type(weights, "model.3", "model.2")}
    return Inferred(section, {})


def _pixel(weights, defaults):
    ndf, input_nc = _shape(weights, "net.0.weight", "PixelGAN")[:2]
    section = {"name": "PixelDiscriminator", "input_nc": input_nc, "ndf": ndf,
               "norm_type": _norm_type(weights, "net.3", "net.2")}
    return Inferred(section, {})


INFERENCE = {"UnetGenerator": _unet, "ResnetGenerator": _resnet, "NLayerDiscriminator": _nlayer,
             "PixelDiscriminator": _pixel}


def infer_network(weights, defaults):
    """:class:`Inferred` config section of generator or discriminator ``weights`` (ppix2pix keys).

    ``defaults`` gives ``use_dropout`` and ``padding_type`` for what the weights cannot tell.
    """
    kind = network_kind(weights)
    if kind is None:
        raise ArchitectureError(f"these weights are not a pix2pix network (U-Net, ResNet, PatchGAN or PixelGAN); "
                                f"found {_sample(weights)}")
    return INFERENCE[kind](weights, defaults)
