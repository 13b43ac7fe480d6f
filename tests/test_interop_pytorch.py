"""PyTorch pix2pix weights in ppix2pix: outputs equal PyTorch's, architecture inference, key mapping and its errors.

The fixtures were written by real PyTorch 2.13 from benchmarks/reference_torch.py, with PyTorch's outputs on a fixed
input in eval mode and in train mode without dropout (BatchNorm on batch statistics).
"""
import json
import os

import numpy as np
import paddle
import pytest

from ppix2pix.config import checkpoint_config, default_config
from ppix2pix.errors import CheckpointError
from ppix2pix.interop.architecture import infer_network
from ppix2pix.interop.foreign import FRAMEWORK_DEFAULTS, foreign_checkpoint, read_networks
from ppix2pix.interop.layouts import biases_absent_in, pytorch_names, to_ppix2pix
from ppix2pix.build import discriminator as build_discriminator
from ppix2pix.build import generator as build_generator
from ppix2pix.checkpoint import load_net_weights
from ppix2pix.weights import load_checkpoint, load_generator

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "torch")
MANIFEST = json.load(open(os.path.join(FIXTURES, "manifest.json")))["networks"]
TOLERANCE = 1e-5


def fixture(name):
    return os.path.join(FIXTURES, name)


def run(net, x, mode):
    """Output of ``net`` in eval mode, or in train mode with dropout off (BatchNorm on batch statistics)."""
    if mode == "eval":
        net.eval()
    else:
        net.train()
        for layer in net.sublayers():
            if isinstance(layer, paddle.nn.Dropout):
                layer.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


def expected_section(name):
    entry = MANIFEST[name]
    return {"name": entry["class"], **entry["settings"]}


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("file,name", [("unet.pth", "unet"), ("unet_legacy.pth", "unet"), ("resnet.pth", "resnet")])
def test_generators_reproduce_pytorch_outputs(file, name, mode):
    net, cfg = load_generator(fixture(file))
    section = cfg["model"]["generator"]
    assert {key: section[key] for key in expected_section(name)} == expected_section(name)
    output = run(net, np.load(fixture(f"{name}_input.npy")), mode)
    reference = np.load(fixture(f"{name}_{mode}.npy"))
    assert output.shape == reference.shape
    assert np.abs(output - reference).max() < TOLERANCE


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("name", ["nlayer", "pixel"])
def test_discriminators_reproduce_pytorch_outputs(name, mode):
    weights = read_networks(fixture(f"{name}.pth"), "pytorch")["netD"]
    section, assumed = infer_network(weights, FRAMEWORK_DEFAULTS["pytorch"])
    assert section == expected_section(name) and assumed == {}
    net = load_net_weights(build_discriminator(section), to_ppix2pix(weights, section, "netD", "pytorch", name),
                           "netD")
    reference = np.load(fixture(f"{name}_{mode}.npy"))
    assert np.abs(run(net, np.load(fixture(f"{name}_input.npy")), mode) - reference).max() < TOLERANCE


def test_wrapped_dataparallel_half_precision_checkpoint():
    wrapped = read_networks(fixture("pixel_wrapped.pth"), "pytorch")
    plain = read_networks(fixture("pixel.pth"), "pytorch")
    assert list(wrapped) == ["netD"] and set(wrapped["netD"]) == set(plain["netD"])
    for key, value in plain["netD"].items():
        assert wrapped["netD"][key].dtype == np.float16
        assert np.array_equal(wrapped["netD"][key], value.astype(np.float16)), key
    with pytest.raises(CheckpointError, match="no pix2pix generator"):
        load_checkpoint(fixture("pixel_wrapped.pth"))


def test_foreign_file_loads_as_a_ppix2pix_checkpoint():
    state = load_checkpoint(fixture("unet.pth"))
    assert set(state) == {"netG", "config", "converted_from"}
    assert checkpoint_config(state, "unet.pth") == state["config"]
    assert state["converted_from"]["framework"] == "pytorch"
    assert list(state["converted_from"]["assumed"]) == ["model.generator.use_dropout"]
    assert "model.model.1.model.2._mean" in state["netG"] and all(
        value.dtype == np.float32 for value in state["netG"].values())
    # BatchNorm statistics are carried over: eval-mode output depends on them
    assert not np.allclose(state["netG"]["model.model.1.model.2._variance"], 1.0)


def test_config_and_overrides_replace_inference():
    cfg = default_config()
    with pytest.raises(CheckpointError) as error:
        load_generator(fixture("unet.pth"), cfg)  # the default config asks for unet_256 with ngf 64
    message = str(error.value)
    assert "shape mismatches: model.model.0.weight: checkpoint (6, 3, 4, 4) vs network (64, 3, 4, 4)" in message
    assert "looks like UnetGenerator(input_nc=3, output_nc=3, num_downs=6, ngf=6" in message
    cfg["model"]["generator"].update(num_downs=6, ngf=6, use_dropout=False)
    net, used = load_generator(fixture("unet.pth"), cfg)
    assert used["model"]["generator"]["use_dropout"] is False
    state = foreign_checkpoint(fixture("unet.pth"), "pytorch", generator={"use_dropout": False})
    assert state["config"]["model"]["generator"]["use_dropout"] is False
    assert state["converted_from"]["assumed"] == {}


def test_missing_unexpected_and_misshapen_keys_are_listed():
    weights = dict(read_networks(fixture("unet.pth"), "pytorch")["netG"])
    section = infer_network(weights, FRAMEWORK_DEFAULTS["pytorch"]).section
    del weights["model.model.1.model.2._variance"]
    weights["model.extra.weight"] = np.zeros(3, np.float32)
    weights["model.model.3.bias"] = np.zeros(5, np.float32)
    with pytest.raises(CheckpointError) as error:
        to_ppix2pix(weights, section, "netG", "pytorch", "unet.pth")
    message = str(error.value)
    assert "missing keys: model.model.1.model.2._variance" in message
    assert "unexpected keys: model.extra.weight" in message
    assert "shape mismatches: model.model.3.bias: checkpoint (5,) vs network (3,)" in message


def test_old_instance_norm_statistics_are_dropped_but_affine_instance_norm_is_refused():
    weights = dict(read_networks(fixture("resnet.pth"), "pytorch")["netG"])
    section = infer_network(weights, FRAMEWORK_DEFAULTS["pytorch"]).section
    old = {"model.2.running_mean": np.full(8, 0.3, np.float32), "model.2.running_var": np.full(8, 2.0, np.float32),
           "model.2.num_batches_tracked": np.array(5)}  # what torch < 0.4 saved for InstanceNorm layers
    renamed = pytorch_names({**weights, **old})
    assert infer_network(renamed, FRAMEWORK_DEFAULTS["pytorch"]).section == section
    fitted = to_ppix2pix(renamed, section, "netG", "pytorch", "old.pth")
    assert set(fitted) == set(to_ppix2pix(weights, section, "netG", "pytorch", "new.pth"))
    affine = {**weights, "model.2.weight": np.full(8, 1.5, np.float32)}
    with pytest.raises(CheckpointError, match="affine instance norm is not supported"):
        to_ppix2pix(affine, {**section, "norm_type": "instance"}, "netG", "pytorch", "affine.pth")


def _reference_layout(net, section, role):
    """ppix2pix weights as the reference stores them for this section (norm 'none': no norm-dependent biases)."""
    absent = biases_absent_in("pytorch", section, role)
    return {key: value.numpy() for key, value in net.state_dict().items() if key not in absent}


@pytest.mark.parametrize("role,section", [
    ("netG", {"name": "UnetGenerator", "num_downs": 5, "ngf": 4, "norm_type": "none", "input_nc": 1, "output_nc": 2}),
    ("netG", {"name": "ResnetGenerator", "n_blocks": 1, "ngf": 4, "norm_type": "none"}),
    ("netD", {"name": "NLayerDiscriminator", "n_layers": 2, "ndf": 4, "norm_type": "none", "input_nc": 3}),
    ("netD", {"name": "PixelDiscriminator", "ndf": 4, "norm_type": "none", "input_nc": 3}),
])
def test_reference_nets_without_norm_have_no_conv_bias_and_load_exactly(role, section):
    paddle.seed(3)
    build = build_generator if role == "netG" else build_discriminator
    original = build(section)
    assert not biases_absent_in("pytorch", section, role)  # same bias rule as the reference
    weights = _reference_layout(original, section, role)
    inferred = infer_network(weights, FRAMEWORK_DEFAULTS["pytorch"]).section
    assert inferred["norm_type"] == "none"
    loaded = load_net_weights(build(inferred), to_ppix2pix(weights, inferred, role, "pytorch", "ref"), role)
    x = np.random.RandomState(0).uniform(-1, 1, (1, section.get("input_nc", 3), 32, 32)).astype(np.float32)
    assert np.array_equal(run(loaded, x, "eval"), run(original, x, "eval"))


ARCHITECTURES = [
    ("netG", {"name": "UnetGenerator", "num_downs": 8, "ngf": 64, "norm_type": "batch", "input_nc": 3,
              "output_nc": 3}),
    ("netG", {"name": "UnetGenerator", "num_downs": 7, "ngf": 16, "norm_type": "instance", "input_nc": 1,
              "output_nc": 2}),
    ("netG", {"name": "ResnetGenerator", "n_blocks": 9, "ngf": 64, "norm_type": "instance", "use_dropout": False,
              "padding_type": "reflect", "input_nc": 3, "output_nc": 3}),
    ("netG", {"name": "ResnetGenerator", "n_blocks": 3, "ngf": 8, "norm_type": "batch", "use_dropout": True,
              "padding_type": "zero", "input_nc": 4, "output_nc": 1}),
    ("netG", {"name": "ResnetGenerator", "n_blocks": 2, "ngf": 8, "norm_type": "batch", "use_dropout": False,
              "padding_type": "zero", "input_nc": 3, "output_nc": 3}),
    ("netG", {"name": "ResnetGenerator", "n_blocks": 0, "ngf": 8, "norm_type": "instance", "input_nc": 3,
              "output_nc": 3}),
    ("netD", {"name": "NLayerDiscriminator", "n_layers": 3, "ndf": 64, "norm_type": "batch", "input_nc": 6}),
    ("netD", {"name": "NLayerDiscriminator", "n_layers": 1, "ndf": 8, "norm_type": "instance", "input_nc": 4}),
    ("netD", {"name": "NLayerDiscriminator", "n_layers": 5, "ndf": 8, "norm_type": "batch", "input_nc": 6}),
    ("netD", {"name": "PixelDiscriminator", "ndf": 64, "norm_type": "instance", "input_nc": 6}),
]


@pytest.mark.parametrize("role,section", ARCHITECTURES, ids=[
    f"{s['name']}-{s.get('num_downs', s.get('n_blocks', s.get('n_layers', '')))}-{s['norm_type']}"
    for _, s in ARCHITECTURES])
def test_architecture_is_inferred_from_weight_shapes(role, section):
    with paddle.LazyGuard():  # shapes only: no weights allocated
        net = (build_generator if role == "netG" else build_discriminator)(section)
    inferred, assumed = infer_network(net.state_dict(), FRAMEWORK_DEFAULTS["pytorch"])
    assert {key: value for key, value in inferred.items() if key not in assumed} == {
        key: value for key, value in section.items() if key not in assumed}
    if section["name"] == "UnetGenerator":
        assert set(assumed) == {"use_dropout"}
    elif section["name"] == "ResnetGenerator" and section.get("padding_type") != "zero":
        assert set(assumed) >= {"padding_type"}
