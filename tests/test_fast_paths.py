"""The CPU fast paths compute what the plain Paddle layers compute, and the runtime tuning respects the user."""

import numpy as np
import paddle
import pytest

from ppix2pix import runtime
from ppix2pix.config import load_config
from ppix2pix.accel import layers as fast_layers
from ppix2pix.accel import onednn
from ppix2pix.accel.layers import DISABLE_VARIABLE, FewOutputConv2D, fast_layers_enabled, plain_layers
from ppix2pix.build import discriminator as build_discriminator
from ppix2pix.networks import learnable_parameters
from ppix2pix.pix2pix import Pix2PixModel

import synthetic

RESNET_TINY = ["model.generator.name=ResnetGenerator", "model.generator.n_blocks=1", "model.generator.ngf=8",
               "model.generator.use_dropout=true", "model.discriminator.ndf=16"]


def _forms():
    """(name, context) for the fast form (oneDNN convs recording their backward, as in the training step) and the
    plain form."""
    return [("fast", onednn.recorded_backward), ("plain", plain_layers)]


def _close(a, b, rtol=1e-4):
    scale = max(float(np.abs(b).max()), 1e-12)
    return float(np.abs(a - b).max()) / scale < rtol


def _both_forms(layer, x, **call):
    """{"fast"/"plain": [output, input gradient, parameter gradients...]} of ``layer(x, **call)`` backpropagated
    from a non-uniform upstream gradient."""
    x.stop_gradient = False
    results = {}
    for name, form in _forms():
        with form():
            out = layer(x, **call)
            (out * paddle.linspace(0, 1, out.size).reshape(out.shape)).sum().backward()
        results[name] = [out.numpy(), x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in layer.parameters()
                                                                 if p.grad is not None]
        x.clear_grad()
        layer.clear_gradients()
    return results


@pytest.mark.parametrize("n_layers", [0, 1, 2, 3])
@pytest.mark.parametrize("training", [True, False])
def test_discriminator_outputs_and_gradients_match_plain_layers(n_layers, training):
    paddle.seed(0)
    net = build_discriminator({"name": "NLayerDiscriminator", "n_layers": n_layers, "ndf": 16})
    assert isinstance(net.sublayers()[-1], FewOutputConv2D)
    net.train() if training else net.eval()
    x = paddle.to_tensor(np.random.default_rng(n_layers).uniform(-1, 1, (2, 6, 64, 64)).astype("float32"))
    fast, plain = _both_forms(net, x).values()
    assert len(fast) == len(plain) > 2
    assert all(_close(a, b) for a, b in zip(fast, plain))


def test_few_output_conv_is_a_plain_conv_for_checkpoints_and_static_graphs():
    paddle.seed(0)
    fast = FewOutputConv2D(8, 1, 4, padding=1)
    plain = paddle.nn.Conv2D(8, 1, 4, padding=1)
    plain.set_state_dict(fast.state_dict())
    assert list(fast.state_dict()) == list(plain.state_dict())
    x = paddle.randn([1, 8, 9, 9])
    static = paddle.jit.to_static(fast, full_graph=True)  # traced: the fast form must not enter the program
    assert _close(static(x).numpy(), plain(x).numpy(), 1e-5)
    assert _close(fast(x).numpy(), plain(x).numpy(), 1e-5)


@pytest.mark.parametrize("in_channels, out_channels, kernel, padding, fast", [
    (8, 1, 4, 1, True),    # PatchGAN logits
    (16, 3, 7, 0, True),   # ResNet generator's last conv (after its reflection pad)
    (6, 2, 3, 2, True),    # padding k - 1: col2im without padding
    (6, 2, 3, 3, False),   # padding >= kernel: plain conv
    (2, 4, 3, 1, False),   # more outputs than inputs: plain conv
])
def test_few_output_conv_matches_the_plain_conv(in_channels, out_channels, kernel, padding, fast):
    paddle.seed(0)
    layer = FewOutputConv2D(in_channels, out_channels, kernel, padding=padding)
    assert FewOutputConv2D.serves(layer) is fast
    layer.bias.set_value(paddle.linspace(-1, 1, out_channels))
    x = paddle.to_tensor(np.random.default_rng(2).normal(size=(2, in_channels, 13, 11)).astype("float32"))
    fast_results, plain_results = _both_forms(layer, x).values()
    assert len(fast_results) == len(plain_results) == 4
    assert all(_close(a, b, 1e-5) for a, b in zip(fast_results, plain_results))


def test_channel_bias_add_is_exact_forward_and_backward():
    rng = np.random.default_rng(0)
    x = paddle.to_tensor(rng.normal(size=(3, 5, 7, 6)).astype("float32"))
    bias = paddle.to_tensor(rng.normal(size=5).astype("float32"))
    upstream = paddle.to_tensor(rng.normal(size=(3, 5, 7, 6)).astype("float32"))
    results = []
    for add in (fast_layers.channel_bias_add, lambda x, b: x + b.reshape([1, -1, 1, 1])):
        x.stop_gradient = bias.stop_gradient = False
        out = add(x, bias)
        (out * upstream).sum().backward()
        results.append((out.numpy(), x.grad.numpy().copy(), bias.grad.numpy().copy()))
        x.clear_grad()
        bias.clear_grad()
    (fast_out, fast_dx, fast_db), (plain_out, plain_dx, plain_db) = results
    assert np.array_equal(fast_out, plain_out) and np.array_equal(fast_dx, plain_dx)
    np.testing.assert_allclose(fast_db, plain_db, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer, kwargs, call", [
    (fast_layers.Conv2D, {"stride": 2, "padding": 1}, {}),
    (fast_layers.Conv2DTranspose, {"stride": 2, "padding": 1}, {}),
    (fast_layers.Conv2DTranspose, {"stride": 2, "padding": 1}, {"output_size": [17, 17]}),
    (fast_layers.Conv2DTranspose, {"stride": 2, "padding": 1, "output_padding": 1}, {}),
])
def test_biased_convs_match_plain_layers_and_keep_their_keys(layer, kwargs, call):
    paddle.seed(0)
    fast = layer(4, 6, 3 if "output_padding" in kwargs else 4, **kwargs)
    assert isinstance(fast, paddle.nn.Conv2DTranspose if layer is fast_layers.Conv2DTranspose else paddle.nn.Conv2D)
    fast.bias.set_value(paddle.linspace(-1, 1, 6))
    x = paddle.to_tensor(np.random.default_rng(1).normal(size=(2, 4, 8, 8)).astype("float32"))
    results = _both_forms(fast, x, **call)
    assert len(results["fast"]) == len(results["plain"]) == 4
    assert all(_close(a, b, 1e-5) for a, b in zip(results["fast"], results["plain"]))
    static = paddle.jit.to_static(fast, full_graph=True)  # the plain layer goes into programs
    assert _close(static(x, **call).numpy(), results["plain"][0], 1e-5)


@pytest.fixture
def float64_default():
    """Build layers and tensors in float64, so that the fast and plain forms can be compared beyond float32 rounding."""
    previous = paddle.get_default_dtype()
    paddle.set_default_dtype("float64")
    yield
    paddle.set_default_dtype(previous)


@pytest.mark.parametrize("generator", ["unet", "resnet"])
def test_two_training_steps_match_plain_layers(generator, tiny_overrides, float64_default):
    """Same losses over two full D+G steps, and the same gradients of both networks after the first, in float64
    (in float32, BatchNorm over a batch of 2 amplifies the forms' different rounding to ~1e-3 in D's gradients)."""
    overrides = (tiny_overrides if generator == "unet" else RESNET_TINY) + [
        "optimizer.optimG.multi_tensor=false", "optimizer.optimD.multi_tensor=false"]  # multi-tensor Adam: fp32 only
    labels, photos = (batch.astype("float64") for batch in synthetic.pair_batch(2, 64, 0))
    results = {}
    for name, form in _forms():
        paddle.seed(0)
        model = Pix2PixModel(load_config(None, overrides))
        with form():
            losses = [model.train_step(paddle.to_tensor(photos), paddle.to_tensor(labels))]
            gradients = [p.grad.numpy() for net in (model.netG, model.netD) for p in learnable_parameters(net)]
            losses.append(model.train_step(paddle.to_tensor(photos), paddle.to_tensor(labels)))
        assert gradients[0].dtype == np.float64
        results[name] = [{k: float(v) for k, v in step.items()} for step in losses], gradients
    (fast_losses, fast_gradients), (plain_losses, plain_gradients) = results["fast"], results["plain"]
    for fast_step, plain_step in zip(fast_losses, plain_losses):
        assert fast_step == pytest.approx(plain_step, rel=1e-9)
    assert len(fast_gradients) == len(plain_gradients) > 0
    scale = max(float(np.abs(g).max()) for g in plain_gradients)
    assert all(np.abs(a - b).max() <= 1e-9 * scale for a, b in zip(fast_gradients, plain_gradients))


def test_environment_switch_disables_fast_layers(monkeypatch):
    assert fast_layers_enabled()
    assert onednn.version() is None or f"oneDNN {onednn.version()} convs" in fast_layers.fast_layers_summary()
    monkeypatch.setenv(DISABLE_VARIABLE, "1")
    assert not fast_layers_enabled()
    assert "off" in fast_layers.fast_layers_summary()
    monkeypatch.delenv(DISABLE_VARIABLE)
    with plain_layers():
        assert not fast_layers_enabled()
    assert fast_layers_enabled()


def test_malloc_tuning_leaves_user_settings_alone(monkeypatch):
    for name in list(runtime.os.environ):
        if name.startswith("MALLOC_") or name in ("GLIBC_TUNABLES", runtime.DISABLE_MALLOC_VARIABLE):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert runtime.tune_malloc() == "malloc left as configured by the user (MALLOC_ARENA_MAX)"
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv(runtime.DISABLE_MALLOC_VARIABLE, "1")
    assert "off" in runtime.tune_malloc()
    monkeypatch.delenv(runtime.DISABLE_MALLOC_VARIABLE)
    if runtime.platform.libc_ver()[0] == "glibc":
        assert runtime.tune_malloc().startswith("malloc keeps freed memory")


def test_resnet_generator_ends_with_the_few_output_conv():
    from ppix2pix.build import generator as build_generator
    net = build_generator({"name": "resnet_6blocks", "ngf": 8})
    convs = [layer for layer in net.sublayers() if isinstance(layer, paddle.nn.Conv2D)]
    assert isinstance(convs[-1], FewOutputConv2D) and FewOutputConv2D.serves(convs[-1])


@pytest.mark.parametrize("mode, padding, size", [
    ("reflect", 1, 9), ("reflect", [3, 1, 0, 2], 12), ("replicate", 2, 7),
    ("reflect", 3, 130),  # larger than SELECTION_PAD_MAX_SIDE: Paddle's pad
])
def test_pad_matches_the_plain_pad(mode, padding, size):
    layer = fast_layers.Pad2D(padding, mode=mode)
    x = paddle.to_tensor(np.random.default_rng(3).normal(size=(2, 3, size, size - 1)).astype("float32"))
    (fast_out, fast_dx), (plain_out, plain_dx) = _both_forms(layer, x).values()
    assert np.array_equal(fast_out, plain_out)
    np.testing.assert_allclose(fast_dx, plain_dx, rtol=1e-6, atol=1e-6)
