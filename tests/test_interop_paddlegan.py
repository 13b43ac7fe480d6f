"""PaddleGAN pix2pix weights: reading its files (its key layout, including the discriminator without a first-conv
bias and the frozen instance-norm scale/bias) and writing ppix2pix networks in that layout."""
import pickle

import numpy as np
import paddle
import pytest

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.config import resolve_config
from ppix2pix.errors import CheckpointError
from ppix2pix.interop.paddlegan import paddlegan_networks, save_paddlegan
from ppix2pix.build import discriminator as build_discriminator
from ppix2pix.build import generator as build_generator
from ppix2pix.weights import load_checkpoint, load_generator

UNET = {"name": "UnetGenerator", "num_downs": 6, "ngf": 8, "norm_type": "batch", "use_dropout": False}
RESNET = {"name": "ResnetGenerator", "n_blocks": 2, "ngf": 8, "norm_type": "instance", "use_dropout": False}
PATCHGAN = {"name": "NLayerDiscriminator", "ndf": 8, "n_layers": 3, "norm_type": "batch", "input_nc": 6}


def trained_like(net, seed):
    """Random biases and BatchNorm statistics, so that every stored value matters."""
    rng = np.random.RandomState(seed)
    for key, value in net.state_dict().items():
        if key.endswith((".bias", "._mean")):
            value.set_value(rng.uniform(-0.2, 0.2, value.shape).astype(np.float32))
        elif key.endswith("._variance"):
            value.set_value(rng.uniform(0.5, 2.0, value.shape).astype(np.float32))
    return net


def numpy_state(net):
    return {key: value.numpy() for key, value in net.state_dict().items()}


def paddlegan_layout(net, instance_norms=()):
    """``net``'s weights with PaddleGAN's keys: its InstanceNorm layers hold scale=1, bias=0."""
    state = numpy_state(net)
    for name in instance_norms:
        channels = dict(net.named_sublayers())[name]._num_features
        state[f"{name}.scale"], state[f"{name}.bias"] = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    return state


@pytest.fixture
def paddlegan_checkpoint(tmp_path):
    """A PaddleGAN pix2pix checkpoint as its trainer saves it: protocol-2 pickle of numpy arrays, with optimizer
    states and the epoch; its NLayerDiscriminator (batch norm) has no first-conv bias."""
    paddle.seed(0)
    netG = trained_like(build_generator(UNET), 1)
    netD = trained_like(build_discriminator(PATCHGAN), 2)
    netD.state_dict()["model.0.bias"].set_value(np.zeros(8, np.float32))  # what PaddleGAN's D computes
    pdgan_d = {key: value for key, value in numpy_state(netD).items() if key != "model.0.bias"}
    state = {"netG": numpy_state(netG), "netD": pdgan_d, "epoch": 5,
             "optimG": {"conv2d_0.w_0_moment1_0": np.zeros(3, np.float32), "LR_Scheduler": {"last_epoch": 4}},
             "optimD": {"conv2d_9.w_0_moment1_0": np.zeros(3, np.float32), "LR_Scheduler": {"last_epoch": 4}}}
    path = tmp_path / "epoch_5_checkpoint.pdparams"
    path.write_bytes(pickle.dumps(state, protocol=2))
    return str(path), netG, netD, state


def _config_with(generator, discriminator=None):
    """A resolved config with these networks."""
    model = {"generator": generator}
    if discriminator is not None:
        model["discriminator"] = discriminator
    return resolve_config({"model": model})


def outputs(net, x):
    net.eval()
    with paddle.no_grad():
        return net(paddle.to_tensor(x)).numpy()


def test_paddlegan_checkpoint_loads_with_both_networks(paddlegan_checkpoint):
    path, netG, netD, _ = paddlegan_checkpoint
    state = load_checkpoint(path)
    model = state["config"]["model"]
    assert {key: model["generator"][key] for key in UNET} == UNET  # dropout off: PaddleGAN's configs
    assert {key: model["discriminator"][key] for key in PATCHGAN} == PATCHGAN
    assert state["converted_from"]["framework"] == "paddlegan"
    assert np.array_equal(state["netD"]["model.0.bias"], np.zeros(8, np.float32))
    loaded, _ = load_generator(path)
    x = np.random.RandomState(0).uniform(-1, 1, (2, 3, 64, 64)).astype(np.float32)
    assert np.array_equal(outputs(loaded, x), outputs(netG, x))
    loaded_d = build_discriminator(model["discriminator"])
    loaded_d.set_state_dict(state["netD"])
    pair = np.random.RandomState(1).uniform(-1, 1, (2, 6, 32, 32)).astype(np.float32)
    assert np.array_equal(outputs(loaded_d, pair), outputs(netD, pair))


def test_bare_generator_state_dict_saved_by_paddle_loads(tmp_path):
    paddle.seed(1)
    net = trained_like(build_generator(RESNET), 3)
    path = str(tmp_path / "netG.pdparams")
    paddle.save(net.state_dict(), path)  # paddle Tensors, no {'netG': ...} wrapper
    state = load_checkpoint(path)
    assert state["config"]["model"]["generator"]["n_blocks"] == 2
    for key, value in net.state_dict().items():
        assert np.array_equal(state["netG"][key], value.numpy()), key


def test_instance_norm_scale_and_bias_must_be_identity(tmp_path):
    net = build_generator(RESNET)
    norms = [name for name, layer in net.named_sublayers() if isinstance(layer, paddle.nn.InstanceNorm2D)]
    weights = paddlegan_layout(net, norms)
    assert len(norms) == 9 and "model.2.scale" in weights  # 5 outside the blocks, 2 per residual block
    path = tmp_path / "ok.pdparams"
    path.write_bytes(pickle.dumps({"netG": weights}, protocol=2))
    assert set(load_checkpoint(str(path))["netG"]) == set(net.state_dict())
    weights["model.2.scale"] = np.full(8, 2.0, np.float32)
    path.write_bytes(pickle.dumps({"netG": weights}, protocol=2))
    with pytest.raises(CheckpointError, match="model.2.scale .*affine instance norm is not supported"):
        load_checkpoint(str(path))


def test_writing_paddlegan_layout_round_trips(paddlegan_checkpoint, tmp_path):
    path, _, _, original = paddlegan_checkpoint
    converted = str(tmp_path / "ppix2pix.pdparams")
    save_checkpoint(load_checkpoint(path), converted)
    written = str(tmp_path / "back.pdparams")
    assert save_paddlegan(load_checkpoint(converted), written) == []
    with open(written, "rb") as handle:
        back = pickle.load(handle, encoding="latin1")  # how PaddleGAN reads weights
    assert set(back) == {"netG", "netD"}
    for role in ("netG", "netD"):
        assert set(back[role]) == set(original[role]), role
        for key, value in original[role].items():
            assert back[role][key].dtype == np.float32 and np.array_equal(back[role][key], value), key


def test_instance_norm_networks_get_paddlegans_scale_and_bias():
    net = trained_like(build_generator(RESNET), 4)
    cfg_state = {"netG": numpy_state(net), "config": _config_with(RESNET)}
    networks, notes = paddlegan_networks(cfg_state, "resnet")
    assert notes == []
    extra = set(networks["netG"]) - set(cfg_state["netG"])
    assert "model.2.scale" in extra and "model.10.conv_block.2.bias" in extra and len(extra) == 18
    assert all(np.all(networks["netG"][key] == (1 if key.endswith("scale") else 0)) for key in extra)


def test_what_paddlegan_cannot_hold_is_refused_or_left_out():
    pixel = {"name": "PixelDiscriminator", "ndf": 4, "norm_type": "batch", "input_nc": 6}
    state = {"netG": numpy_state(build_generator(UNET)), "netD": numpy_state(build_discriminator(pixel)),
             "config": _config_with(UNET, pixel)}
    networks, notes = paddlegan_networks(state, "pixel")
    assert list(networks) == ["netG"] and "no PixelGAN" in notes[0]
    trained_d = trained_like(build_discriminator(PATCHGAN), 5)  # first-conv bias not zero
    state = {"netG": state["netG"], "netD": numpy_state(trained_d), "config": _config_with(UNET, PATCHGAN)}
    networks, notes = paddlegan_networks(state, "patchgan")
    assert list(networks) == ["netG"] and "has no model.0.bias" in notes[0]
    none_g = {**UNET, "norm_type": "none"}  # same bias rule as PaddleGAN: writable as is
    state = {"netG": numpy_state(trained_like(build_generator(none_g), 6)), "config": _config_with(none_g)}
    networks, _ = paddlegan_networks(state, "none")
    assert list(networks) == ["netG"]
