"""Convolutions through oneDNN compute what Paddle's conv kernels compute, and run only where they are safe."""
import contextlib
import gc
import platform
import weakref

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppix2pix.config import load_config
from ppix2pix.models import fast_layers, onednn
from ppix2pix.models.fast_layers import plain_layers
from ppix2pix.pix2pix import Pix2PixModel

import synthetic

pytestmark = pytest.mark.skipif(not onednn.available(), reason="Paddle's wheel ships no usable oneDNN here")


def _tensor(shape, seed, needs_grad=True):
    tensor = paddle.to_tensor(np.random.default_rng(seed).standard_normal(shape).astype("float32"))
    tensor.stop_gradient = not needs_grad
    return tensor


def _relative_error(a, b):
    return float((a - b).abs().max()) / max(float(b.abs().max()), 1e-12)


def _output_and_gradients(function, x, weight, upstream_seed=7):
    """``function(x, weight)`` and the gradients of ``sum(out * g)`` for a fixed random ``g``, for inputs that take
    gradients."""
    out = function(x, weight)
    assert out is not None, "oneDNN declined a geometry it should take"
    upstream = _tensor(out.shape, upstream_seed, needs_grad=False)
    wanted = [t for t in (x, weight) if not t.stop_gradient]
    return [out] + list(paddle.grad([out], wanted, [upstream]))


def test_oneDNN_loads_from_the_paddle_wheel_on_x86_linux():
    if platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"):
        assert onednn.available()


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", [
    ((2, 6, 64, 64), (16, 6, 4, 4), 2, 1, 1),          # PatchGAN / U-Net down conv
    ((2, 16, 33, 31), (8, 16, 3, 3), 1, 1, 1),         # odd sizes, same-size output
    ((2, 16, 33, 31), (8, 16, 3, 3), 2, 1, 1),         # last window cut: pad_end < pad_begin
    ((2, 16, 30, 30), (8, 16, 3, 3), 1, 2, 2),         # dilation
    ((2, 16, 20, 20), (24, 16, 4, 4), 1, [1, 2], 1),   # per-axis padding, stride-1 4x4 (PatchGAN's penultimate)
    ((1, 8, 9, 9), (4, 8, 7, 7), 1, 0, 1),             # ResNet's 7x7 conv after an explicit pad
])
def test_conv_matches_paddle_forward_and_backward(x_shape, w_shape, stride, padding, dilation):
    x, weight = _tensor(x_shape, 0), _tensor(w_shape, 1)
    with onednn.recorded_backward():
        fast = _output_and_gradients(lambda a, b: onednn.conv2d(a, b, stride, padding, dilation), x, weight)
    plain = _output_and_gradients(lambda a, b: F.conv2d(a, b, None, stride, padding, dilation), x, weight)
    assert [t.shape for t in fast] == [t.shape for t in plain]
    assert all(_relative_error(a, b) < 1e-5 for a, b in zip(fast, plain))


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, output_padding", [
    ((2, 16, 16, 16), (16, 8, 4, 4), 2, 1, 0),   # U-Net up conv
    ((2, 16, 15, 17), (16, 8, 3, 3), 2, 1, 1),   # ResNet up conv (output_padding 1)
    ((2, 16, 8, 8), (16, 8, 3, 3), 1, 1, 0),
])
def test_transposed_conv_matches_paddle_forward_and_backward(x_shape, w_shape, stride, padding, output_padding):
    x, weight = _tensor(x_shape, 2), _tensor(w_shape, 3)
    plain = _output_and_gradients(
        lambda a, b: F.conv2d_transpose(a, b, None, stride, padding, output_padding=output_padding), x, weight)
    with onednn.recorded_backward():
        fast = _output_and_gradients(
            lambda a, b: onednn.conv2d_transpose(a, b, stride, padding, 1, plain[0].shape[2:]), x, weight)
    assert all(_relative_error(a, b) < 1e-5 for a, b in zip(fast, plain))


@pytest.mark.parametrize("frozen", ["x", "weight"])
def test_frozen_inputs_get_no_gradient_and_the_other_one_the_right_one(frozen):
    """The first conv's input (an image) and D's weights in the G step take no gradient."""
    x, weight = _tensor((2, 8, 16, 16), 4, frozen != "x"), _tensor((4, 8, 4, 4), 5, frozen != "weight")
    with onednn.recorded_backward():
        fast = _output_and_gradients(lambda a, b: onednn.conv2d(a, b, 2, 1, 1), x, weight)
        fast_t = _output_and_gradients(lambda a, b: onednn.conv2d_transpose(a, b, 2, 1, 1, [32, 32]),
                                       _tensor((2, 4, 16, 16), 6, frozen != "x"),
                                       _tensor((4, 8, 4, 4), 7, frozen != "weight"))
    plain = _output_and_gradients(lambda a, b: F.conv2d(a, b, None, 2, 1), x, weight)
    assert len(fast) == len(plain) == 2 and len(fast_t) == 2
    assert all(_relative_error(a, b) < 1e-5 for a, b in zip(fast, plain))


def test_outside_a_recorded_step_autograd_uses_paddle_kernels_so_partial_grads_work():
    """paddle.grad over a subset of the inputs prunes the weights' branch, which a PyLayer cannot see; outside
    ``recorded_backward`` the layers run Paddle's conv, and such calls work."""
    x, weight = _tensor((1, 4, 16, 16), 8), _tensor((4, 4, 3, 3), 9)
    assert onednn.conv2d(x, weight, 1, 1, 1) is None
    layer = fast_layers.Conv2D(4, 4, 3, padding=1)
    (grad,) = paddle.grad(layer(layer(x)).sum(), x)
    with plain_layers():
        (expected,) = paddle.grad(layer(layer(x)).sum(), x)
    np.testing.assert_allclose(grad.numpy(), expected.numpy(), rtol=1e-6)


def test_without_gradients_the_primitives_run_directly():
    x, weight = _tensor((2, 4, 16, 16), 10, False), _tensor((8, 4, 4, 4), 11, False)
    direct = onednn.conv2d(x, weight, 2, 1, 1)
    assert direct is not None and direct.stop_gradient
    with paddle.no_grad():
        x.stop_gradient = False
        under_no_grad = onednn.conv2d(x, weight, 2, 1, 1)
    assert under_no_grad is not None
    assert _relative_error(direct, F.conv2d(x, weight, None, 2, 1)) < 1e-5


def test_non_contiguous_inputs_and_weights_are_made_dense():
    base = _tensor((3, 4, 16, 16), 12, False)
    weights = _tensor((8, 4, 3, 3), 13, False)
    for x, weight in ((base.transpose([0, 1, 3, 2]), weights), (base[1:], weights), (base[:, 1:3], weights[:, :2]),
                      (base, weights.transpose([0, 1, 3, 2]))):
        assert _relative_error(onednn.conv2d(x, weight, 1, 1, 1), F.conv2d(x, weight, None, 1, 1)) < 1e-5
    x = base[:, 1:3]
    x.stop_gradient = False
    with onednn.recorded_backward():
        fast = _output_and_gradients(lambda a, b: onednn.conv2d(a, b, 1, 1, 1), x, weights[4:, :2])
    plain = _output_and_gradients(lambda a, b: F.conv2d(a, b, None, 1, 1), x, weights[4:, :2])
    assert all(_relative_error(a, b) < 1e-5 for a, b in zip(fast, plain))


def test_unsupported_forms_are_declined():
    x, weight = _tensor((1, 4, 8, 8), 14, False), _tensor((4, 4, 3, 3), 15, False)
    assert onednn.conv2d(x, weight, 1, "SAME", 1) is None
    assert onednn.conv2d(x, weight, 1, [1, 1, 2, 2], 1) is None
    assert onednn.conv2d(x.astype("float64"), weight.astype("float64"), 1, 1, 1) is None
    # output_padding beyond the padding would need a negative end padding of the equivalent conv
    assert onednn.conv2d_transpose(x, weight, 2, 0, 1, [18, 18]) is None


def test_layers_fall_back_to_paddle_where_oneDNN_declines():
    layer = fast_layers.Conv2DTranspose(4, 4, 3, stride=2, padding=0, output_padding=1)
    x = _tensor((1, 4, 8, 8), 16, False)
    with paddle.no_grad():
        out = layer(x)
        with plain_layers():
            expected = layer(x)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_transposed_layer_takes_output_size_as_ints_or_tensors():
    layer = fast_layers.Conv2DTranspose(4, 3, 3, stride=2, padding=1)
    x = _tensor((1, 4, 8, 8), 18, False)
    with paddle.no_grad():
        with plain_layers():
            expected = layer(x, output_size=[16, 16])
        for output_size in ([16, 16], [paddle.to_tensor(16), paddle.to_tensor(16)]):  # ints: oneDNN; tensors: Paddle
            np.testing.assert_allclose(layer(x, output_size=output_size).numpy(), expected.numpy(), rtol=1e-5,
                                       atol=1e-6)


def test_a_training_step_runs_oneDNN_and_gives_the_plain_losses(tiny_overrides):
    """One full D+G step in float32 with the oneDNN convs (checked to run) and with Paddle's: the same losses.

    The D losses come before any update and agree to float32 rounding; the G losses go through the updated D, whose
    Adam step amplifies rounding differences in near-zero gradients, so they get a looser tolerance.
    """
    labels, photos = synthetic.pair_batch(2, 64, 0)
    losses = {}
    for name, form in (("fast", contextlib.nullcontext), ("plain", plain_layers)):
        paddle.seed(0)
        model = Pix2PixModel(load_config(None, tiny_overrides))
        onednn.conv_primitives.cache_clear()
        with form():
            step = model.train_step(paddle.to_tensor(photos), paddle.to_tensor(labels))
        used = onednn.conv_primitives.cache_info().currsize
        assert (used > 0) == (name == "fast")
        losses[name] = {key: float(value) for key, value in step.items()}
    for key in ("D_real", "D_fake", "D"):
        assert losses["fast"][key] == pytest.approx(losses["plain"][key], rel=1e-5)
    for key in ("G_GAN", "G_L1", "G"):
        assert losses["fast"][key] == pytest.approx(losses["plain"][key], rel=1e-3)


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_relu_matches_paddle_exactly_forward_and_backward(slope):
    x = _tensor((2, 8, 17, 19), 17)
    x.stop_gradient = False
    with onednn.recorded_backward():
        fast = _output_and_gradients(lambda a, _: onednn.relu(a, slope), x, _tensor((1,), 0, False))
    plain = _output_and_gradients(lambda a, _: F.leaky_relu(a, slope), x, _tensor((1,), 0, False))
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fast, plain))
    assert onednn.relu(x, slope) is None  # outside the recorded step, autograd runs Paddle's kernel
    assert onednn.relu(x.astype("float64"), slope) is None
    with paddle.no_grad():
        np.testing.assert_array_equal(onednn.relu(x, slope).numpy(), plain[0].numpy())


def test_primitives_evicted_from_the_cache_destroy_their_oneDNN_objects(monkeypatch):
    """Inference over many image sizes builds a primitive set per size; the LRU cache drops old ones, and their
    oneDNN objects (JIT-compiled kernels included) must go with them, or memory grows by ~0.25 MB per size."""
    released = []
    original_release = onednn._Owner.release

    def counting_release(owner):
        if owner.objects:
            released.append(len(owner.objects))
        original_release(owner)

    monkeypatch.setattr(onednn._Owner, "release", counting_release)
    geometry = onednn._conv_geometry((1, 4, 11, 13), (8, 4, 3, 3), (1, 8, 11, 13), (1, 1), (1, 1), (1, 1))
    primitives = onednn.ConvPrimitives(onednn._library(), geometry)
    kept = len(primitives.owner.objects)
    assert kept >= 3 * 4  # a primitive and three memory objects per pass, at least
    assert len(released) == 1  # the descriptors, once the primitives were built
    owner = weakref.ref(primitives.owner)
    del primitives
    gc.collect()
    assert owner() is None and released[1:] == [kept]
