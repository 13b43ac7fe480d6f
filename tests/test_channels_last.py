"""Channels-last activations (NHWC memory behind NCHW tensors) give what the plain NCHW layers give."""
import contextlib

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
import pytest

from ppix2pix.accel import layers as fast_layers
from ppix2pix.accel import onednn
from ppix2pix.accel.layers import is_channels_last
from ppix2pix.build import discriminator as build_discriminator
from ppix2pix.build import generator as build_generator

pytestmark = pytest.mark.skipif(not onednn.available(), reason="Paddle's wheel ships no usable oneDNN here")


def _tensor(shape, seed, needs_grad=True, channels_last=False):
    tensor = paddle.to_tensor(np.random.default_rng(seed).standard_normal(shape).astype("float32"))
    if channels_last:
        tensor = tensor.transpose([0, 2, 3, 1]).contiguous().transpose([0, 3, 1, 2])
        assert is_channels_last(tensor)
    tensor.stop_gradient = not needs_grad
    return tensor


def _outputs_and_gradients(function, inputs, upstream_channels_last=False):
    """``function(*inputs)`` and the gradients of its inputs for a fixed random upstream gradient (in NCHW or
    channels-last memory)."""
    for tensor in inputs:
        tensor.clear_gradient()
    out = function(*inputs)
    upstream = _tensor(out.shape, 99, needs_grad=False, channels_last=upstream_channels_last)
    paddle.autograd.backward([out], [upstream])
    _outputs_and_gradients.orders = [onednn.memory_layout(tensor.grad) for tensor in inputs]
    return out, [tensor.grad.clone() for tensor in inputs]


def _assert_close(fast, plain, rtol=1e-5):
    for a, b in zip(fast, plain):
        scale = max(float(b.abs().max()), 1e-12)
        assert float((a - b).abs().max()) / scale < rtol


@pytest.mark.parametrize("input_channels_last", [False, True])
@pytest.mark.parametrize("upstream_channels_last", [False, True])
@pytest.mark.parametrize("transposed", [False, True])
def test_channels_last_convs_match_paddle_whatever_order_inputs_and_gradients_come_in(
        input_channels_last, upstream_channels_last, transposed):
    x = _tensor((2, 16, 12, 10), 0, channels_last=input_channels_last)
    if transposed:
        weight = _tensor((16, 8, 4, 4), 1)
        fast_form = lambda a, b: onednn.conv2d_transpose(a, b, 2, 1, 1, [24, 20], channels_last=True)  # noqa: E731
        plain_form = lambda a, b: F.conv2d_transpose(a, b, None, 2, 1)  # noqa: E731
    else:
        weight = _tensor((24, 16, 4, 4), 1)
        fast_form = lambda a, b: onednn.conv2d(a, b, 2, 1, 1, channels_last=True)  # noqa: E731
        plain_form = lambda a, b: F.conv2d(a, b, None, 2, 1)  # noqa: E731
    with onednn.recorded_backward():
        out, grads = _outputs_and_gradients(fast_form, [x, weight], upstream_channels_last)
    assert is_channels_last(out)
    # the input gradient keeps the input's memory order
    assert _outputs_and_gradients.orders[0] == onednn.memory_layout(x)
    expected, expected_grads = _outputs_and_gradients(plain_form, [x, weight], upstream_channels_last)
    _assert_close([out, *grads], [expected, *expected_grads])
    with paddle.no_grad():
        _assert_close([fast_form(x, weight)], [expected])


@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_relu_of_a_channels_last_tensor_stays_channels_last_and_exact(slope):
    x = _tensor((2, 16, 9, 7), 2, channels_last=True)
    with onednn.recorded_backward():
        out, (grad,) = _outputs_and_gradients(lambda a: onednn.relu(a, slope), [x], upstream_channels_last=True)
    assert is_channels_last(out) and _outputs_and_gradients.orders == [onednn.CHANNELS_LAST]
    expected, (expected_grad,) = _outputs_and_gradients(lambda a: F.leaky_relu(a, slope), [x], True)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(grad.numpy(), expected_grad.numpy())


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("upstream_channels_last", [False, True])
def test_batch_norm_of_a_channels_last_tensor_matches_the_plain_layer_with_its_statistics(
        training, upstream_channels_last):
    """Training mode runs oneDNN's batch norm (forward and backward, inside the recorded step) and updates the
    running statistics as PyTorch does (Paddle's kernel would take the biased batch variance); inference mode with
    gradients falls back to Paddle's NHWC kernel."""
    fast, plain = fast_layers.BatchNorm2D(16, momentum=0.9), nn.BatchNorm2D(16, momentum=0.9)
    for layer in (fast, plain):
        layer._mean.set_value(paddle.full([16], 0.3))
        layer._variance.set_value(paddle.full([16], 2.0))
        layer.weight.set_value(paddle.linspace(0.5, 2.0, 16))
        layer.train() if training else layer.eval()
    x = _tensor((3, 16, 6, 5), 3, channels_last=True)
    onednn.batch_norm_primitives.cache_clear()
    with onednn.recorded_backward():
        out, grads = _outputs_and_gradients(lambda a, *_: fast(a), [x, fast.weight, fast.bias], upstream_channels_last)
    assert onednn.batch_norm_primitives.cache_info().currsize == (1 if training else 0)
    assert is_channels_last(out) and _outputs_and_gradients.orders[0] == onednn.CHANNELS_LAST
    expected, expected_grads = _outputs_and_gradients(lambda a, *_: plain(a), [x, plain.weight, plain.bias],
                                                      upstream_channels_last)
    _assert_close([out, *grads], [expected, *expected_grads])
    _assert_close([fast._mean, fast._variance], [plain._mean, _unbiased_running_variance(plain, 2.0, x, training)])
    assert training == (abs(float(fast._mean.mean()) - 0.3) > 1e-4)  # training updates the running mean
    with paddle.no_grad():  # without gradients oneDNN runs in both modes
        _assert_close([fast(x)], [plain(x)])
    assert onednn.batch_norm_primitives.cache_info().currsize == 1


def _unbiased_running_variance(paddle_norm, before, x, updated):
    """The running variance PyTorch keeps where Paddle's norm (momentum 0.9) took the biased batch variance."""
    if not updated:
        return paddle_norm._variance
    count = x.size // x.shape[1]
    return 0.9 * before + (paddle_norm._variance - 0.9 * before) * (count / (count - 1))


@pytest.mark.parametrize("recorded", [True, False])
@pytest.mark.parametrize("upstream_channels_last", [True, False])
def test_bias_add_concat_and_fork_keep_channels_last_and_match_paddle(recorded, upstream_channels_last):
    """Inside the recorded step the concat is oneDNN's (its gradient copied out of the output gradient per input),
    outside it Paddle's NHWC concat; both give Paddle's values and gradients, channels-last."""
    x = _tensor((2, 16, 5, 6), 4, channels_last=True)
    bias = _tensor((16,), 5)
    other = _tensor((2, 8, 5, 6), 6, channels_last=True)
    frozen = _tensor((2, 4, 5, 6), 7, needs_grad=False, channels_last=True)

    def fast_form(a, b, c):
        skip, a = fast_layers.fork(a)
        return fast_layers.concat_channels([skip, fast_layers.channel_bias_add(a, b), frozen, c])

    def plain_form(a, b, c):
        return paddle.concat([a, a + b.reshape([1, -1, 1, 1]), frozen, c], axis=1)

    onednn.concat_primitives.cache_clear()
    with onednn.recorded_backward() if recorded else contextlib.nullcontext():
        out, grads = _outputs_and_gradients(fast_form, [x, bias, other], upstream_channels_last)
    assert onednn.concat_primitives.cache_info().currsize == int(recorded)
    assert out.shape == [2, 44, 5, 6] and is_channels_last(out)
    # the fork summed the skip and the bias-add gradients channels-last
    assert _outputs_and_gradients.orders[0] == onednn.CHANNELS_LAST
    expected, expected_grads = _outputs_and_gradients(plain_form, [x, bias, other], upstream_channels_last)
    _assert_close([out, *grads], [expected, *expected_grads])
    with paddle.no_grad():
        _assert_close([fast_form(x, bias, other)], [expected])


def _activation_orders(net, x):
    orders = {}
    hooks = [layer.register_forward_post_hook(
        lambda layer, inputs, out: orders.setdefault(type(layer).__name__, set()).add(onednn.memory_layout(out)))
        for layer in net.sublayers() if isinstance(layer, (fast_layers.Conv2D, nn.BatchNorm2D))]
    with paddle.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()
    return orders


def test_batch_norm_networks_pass_activations_on_channels_last_and_instance_norm_ones_do_not():
    unet = build_generator({"name": "unet_128", "ngf": 8})
    patch = build_discriminator({"name": "NLayerDiscriminator", "n_layers": 3, "ndf": 8})
    x = _tensor((1, 3, 128, 128), 7, needs_grad=False)
    assert _activation_orders(unet, x)["BatchNorm2D"] == {onednn.CHANNELS_LAST}
    assert _activation_orders(patch, paddle.concat([x, x], axis=1))["BatchNorm2D"] == {onednn.CHANNELS_LAST}
    instance = build_generator({"name": "unet_128", "ngf": 8, "norm_type": "instance"})
    assert _activation_orders(instance, x)["Conv2D"] == {onednn.PLAIN}
    with fast_layers.plain_layers():
        assert _activation_orders(unet, x)["BatchNorm2D"] == {onednn.PLAIN}


def _parameter_gradients(net, x, form):
    paddle.seed(0)
    net.clear_gradients()
    with form():
        out = net(x)
        paddle.autograd.backward([out], [_tensor(out.shape, 8, needs_grad=False)])
    return {name: p.grad.clone() for name, p in net.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("network", ["unet", "patch"])
def test_networks_get_the_plain_layers_gradients_through_the_channels_last_path(network):
    """Every parameter gradient of a U-Net (skip connections: fork + concat, dropout) and a PatchGAN matches the
    plain layers', so nothing is lost where activations change memory order.

    Seeded: with batch 2 the innermost batch norms see 8 values per channel, and for some random weights their
    backward amplifies the float32 rounding differences between oneDNN's and Paddle's kernels past 1e-3."""
    paddle.seed(1)
    if network == "unet":
        net = build_generator({"name": "unet_128", "ngf": 8})
        x = _tensor((2, 3, 128, 128), 9, needs_grad=False)
    else:
        net = build_discriminator({"name": "NLayerDiscriminator", "n_layers": 3, "ndf": 8})
        x = _tensor((2, 6, 64, 64), 9, needs_grad=False)
    fast = _parameter_gradients(net, x, onednn.recorded_backward)
    plain = _parameter_gradients(net, x, fast_layers.plain_layers)
    assert fast.keys() == plain.keys() and len(fast) == len(net.parameters()) - 2 * len(
        [layer for layer in net.sublayers() if isinstance(layer, nn.BatchNorm2D)])
    for name in plain:
        scale = max(float(plain[name].abs().max()), 1e-12)
        assert float((fast[name] - plain[name]).abs().max()) / scale < 1e-3, name


def test_the_environment_switch_keeps_nchw_activations_with_the_fast_layers(monkeypatch):
    unet = build_generator({"name": "unet_128", "ngf": 8})
    x = _tensor((1, 3, 128, 128), 7, needs_grad=False)
    monkeypatch.setenv(fast_layers.NCHW_VARIABLE, "1")
    assert _activation_orders(unet, x)["BatchNorm2D"] == {onednn.PLAIN}
    assert "NCHW activations" in fast_layers.fast_layers_summary()
    monkeypatch.delenv(fast_layers.NCHW_VARIABLE)
    assert _activation_orders(unet, x)["BatchNorm2D"] == {onednn.CHANNELS_LAST}
    assert "channels-last activations" in fast_layers.fast_layers_summary()
