"""Convolutions through oneDNN compute what Paddle's conv kernels compute, and run only where they are safe."""
import contextlib
import gc
import os
import platform
import subprocess
import sys
import weakref

import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

from ppix2pix.config import load_config
from ppix2pix.accel import layers as fast_layers
from ppix2pix.accel import onednn
from ppix2pix.accel.layers import plain_layers
from ppix2pix.pix2pix import Pix2PixModel

import synthetic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


@pytest.fixture
def released(monkeypatch):
    """The number of oneDNN objects of each owner released from now on, in order."""
    counts = []
    original_release = onednn._Owner.release

    def counting_release(owner):
        if owner.objects:
            counts.append(len(owner.objects))
        original_release(owner)

    monkeypatch.setattr(onednn._Owner, "release", counting_release)
    return counts


def test_primitives_evicted_from_the_cache_destroy_their_oneDNN_objects(released):
    """Inference over many image sizes builds a primitive set per size; the LRU cache drops old ones, and their
    oneDNN objects (JIT-compiled kernels included) must go with them, or memory grows by ~0.25 MB per size."""
    geometry = onednn._conv_geometry((1, 4, 11, 13), (8, 4, 3, 3), (1, 8, 11, 13), (1, 1), (1, 1), (1, 1))
    primitives = onednn.ConvPrimitives(onednn._library(), geometry)
    kept = len(primitives.owner.objects)
    assert kept >= 3 * 4  # a primitive and three memory objects per pass, at least
    assert len(released) == 1  # the descriptors, once the primitives were built
    owner = weakref.ref(primitives.owner)
    del primitives
    gc.collect()
    assert owner() is None and released[1:] == [kept]


def _channels_last(shape, seed):
    return _tensor(shape, seed, False).transpose(onednn.TO_NHWC).contiguous().transpose(onednn.TO_NCHW)


def _batch_norm(fast):
    """Training-mode batch norm of ``(x, scale, shift)`` through oneDNN or Paddle (fresh running statistics)."""
    def normalize(x, scale, shift):
        statistics = (paddle.zeros([x.shape[1]]), paddle.ones([x.shape[1]]))
        if fast:
            return onednn.batch_norm(x, *statistics, scale, shift, True, 0.9, 1e-5)
        return F.batch_norm(x, *statistics, scale, shift, training=True, momentum=0.9, epsilon=1e-5)
    return normalize


def _backward(out, inputs, upstream):
    """The gradients of ``sum(out * upstream)`` by ``loss.backward()``, as the training step takes them (after a
    ``paddle.grad`` call Paddle keeps the batch norm's node alive)."""
    paddle.autograd.backward([out], [upstream])
    gradients = [tensor.grad.clone() for tensor in inputs]
    for tensor in inputs:
        tensor.clear_gradient()
    return gradients


# name: (oneDNN form, Paddle form, input tensors' (shape, channels-last) in the forms' order)
_RECORDED_NODES = {
    "conv": (lambda x, w: onednn.conv2d(x, w, 2, 1, 1), lambda x, w: F.conv2d(x, w, None, 2, 1),
             [((2, 4, 16, 16), False), ((8, 4, 4, 4), False)]),
    "transposed conv": (lambda x, w: onednn.conv2d_transpose(x, w, 2, 1, 1, [32, 32], channels_last=True),
                        lambda x, w: F.conv2d_transpose(x, w, None, 2, 1),
                        [((2, 4, 16, 16), True), ((4, 8, 4, 4), False)]),
    "leaky relu": (lambda x: onednn.relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), [((2, 4, 9, 7), False)]),
    "batch norm": (_batch_norm(True), _batch_norm(False), [((2, 4, 6, 5), True), ((4,), False), ((4,), False)]),
    "concat": (lambda *maps: onednn.concat_channels(maps), lambda *maps: paddle.concat(maps, axis=1),
               [((2, 4, 5, 6), True), ((2, 8, 5, 6), True)]),
}


def _clear_caches():
    for cache in (onednn.conv_primitives, onednn.relu_primitives, onednn.batch_norm_primitives,
                  onednn.concat_primitives):
        cache.cache_clear()
    gc.collect()


@pytest.mark.parametrize("name", list(_RECORDED_NODES))
def test_a_recorded_graph_keeps_its_primitives_when_the_caches_evict_them(name, released):
    """An evicted primitive set is destroyed only once no recorded graph needs it: destroyed before the backward, it
    was a use-after-free (a segfault once many geometries cycled through the caches)."""
    fast, plain, specs = _RECORDED_NODES[name]
    inputs = [_channels_last(shape, seed) if channels_last else _tensor(shape, seed, False)
              for seed, (shape, channels_last) in enumerate(specs)]
    for tensor in inputs:
        tensor.stop_gradient = False
    _clear_caches()
    with onednn.recorded_backward():
        out = fast(*inputs)
    assert out is not None, "oneDNN declined a form it should take"
    built = len(released)  # the descriptors, released once the primitives exist
    _clear_caches()
    assert len(released) == built, "primitives a recorded graph still needs were destroyed"
    upstream = _tensor(out.shape, 9, needs_grad=False)
    fast_result = [out, *_backward(out, inputs, upstream)]
    plain_result = [plain(*inputs)]
    plain_result += _backward(plain_result[0], inputs, upstream)
    assert all(_relative_error(a, b) < 1e-5 for a, b in zip(fast_result, plain_result))
    del out, fast_result
    gc.collect()
    assert len(released) > built  # and once the graph is gone, they are


# Trains steps of a tiny pix2pix over several batch and image sizes, with every primitive cache at the given size.
_TRAIN_WITH_CACHES_OF = """
import functools, math, sys
import paddle
from ppix2pix.config import load_config
from ppix2pix.accel import onednn
from ppix2pix.pix2pix import Pix2PixModel

def losses_with_caches_of(size):
    for name in ("conv_primitives", "relu_primitives", "batch_norm_primitives", "concat_primitives"):
        setattr(onednn, name, functools.lru_cache(maxsize=size)(getattr(onednn, name).__wrapped__))
    paddle.seed(0)
    model = Pix2PixModel(load_config(None, sys.argv[1:]))
    losses = []
    for batch, side in ((1, 64), (2, 64), (1, 128), (3, 64)):
        images = paddle.rand([2, batch, 3, side, side]) * 2 - 1
        losses.append({key: float(value) for key, value in model.train_step(images[0], images[1]).items()})
    return losses

evicting = losses_with_caches_of(4)
assert onednn.conv_primitives.cache_info().misses > onednn.conv_primitives.cache_info().maxsize
for step, (with_evictions, without) in enumerate(zip(evicting, losses_with_caches_of(256))):
    assert all(math.isclose(with_evictions[key], without[key], rel_tol=1e-6) for key in without), (step, evicting)
"""


def test_training_steps_survive_caches_evicting_primitives_their_graphs_need(tiny_overrides):
    """Each step needs more conv, ReLU, batch-norm and concat geometries than caches of 4 hold, so the caches evict
    primitives between the forward and the backward: the steps give the losses they give without evictions (a
    use-after-free would crash the subprocess, exit -11)."""
    result = subprocess.run([sys.executable, "-c", _TRAIN_WITH_CACHES_OF, *tiny_overrides], capture_output=True,
                            text=True, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
