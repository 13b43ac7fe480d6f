"""Adversarial losses on fixed inputs, any output shape, and the WGAN-GP penalty."""
import math

import numpy as np
import paddle
import paddle.nn as nn
import pytest

from ppix2pix.losses import GANLoss, gradient_penalty

LOGITS = np.array([[[[2.0, -1.0], [0.5, 0.0]]]], np.float32)


def _bce(x, target):
    return np.mean(np.logaddexp(0, x) - target * x)


def test_vanilla_is_bce_with_logits():
    loss = GANLoss("vanilla")
    x = paddle.to_tensor(LOGITS)
    assert math.isclose(float(loss(x, True)), _bce(LOGITS, 1.0), rel_tol=1e-6)
    assert math.isclose(float(loss(x, False)), _bce(LOGITS, 0.0), rel_tol=1e-6)


def test_lsgan_is_mse_to_labels():
    loss = GANLoss("lsgan")
    x = paddle.to_tensor(LOGITS)
    assert math.isclose(float(loss(x, True)), np.mean((LOGITS - 1) ** 2), rel_tol=1e-6)
    assert math.isclose(float(loss(x, False)), np.mean(LOGITS ** 2), rel_tol=1e-6)


def test_wgangp_is_signed_mean():
    loss = GANLoss("wgangp")
    x = paddle.to_tensor(LOGITS)
    assert math.isclose(float(loss(x, True)), -LOGITS.mean(), rel_tol=1e-6)
    assert math.isclose(float(loss(x, False)), LOGITS.mean(), rel_tol=1e-6)


def test_hinge_discriminator_and_generator_sides():
    loss = GANLoss("hinge")
    x = paddle.to_tensor(LOGITS)
    assert math.isclose(float(loss(x, True)), np.mean(np.maximum(0, 1 - LOGITS)), rel_tol=1e-6)
    assert math.isclose(float(loss(x, False)), np.mean(np.maximum(0, 1 + LOGITS)), rel_tol=1e-6)
    assert math.isclose(float(loss(x, True, for_discriminator=False)), -LOGITS.mean(), rel_tol=1e-6)


@pytest.mark.parametrize("mode", ["vanilla", "lsgan", "wgangp", "hinge"])
def test_targets_follow_each_prediction_shape(mode):
    """No target is cached by the first shape: later calls with other shapes (ragged last batch) work."""
    loss = GANLoss(mode)
    for shape in ([1, 1, 30, 30], [3, 1, 14, 6], [1, 1, 62, 62]):
        value = loss(paddle.zeros(shape), True)
        assert value.shape in ([], [1])


def test_unknown_gan_mode_is_rejected():
    with pytest.raises(ValueError, match="vanilla, lsgan, wgangp, hinge"):
        GANLoss("wgan")


def test_gradient_penalty_of_a_linear_critic():
    """For D(c, x) = sum(w * x) the gradient norm is ||w|| everywhere, so the penalty is (||w|| - 1)^2 * weight."""
    critic = nn.Conv2D(2, 1, 1, bias_attr=False)
    critic.weight.set_value(paddle.to_tensor(np.array([0.0, 3.0], np.float32).reshape(1, 2, 1, 1)))
    real, fake, condition = paddle.randn([2, 1, 4, 4]), paddle.randn([2, 1, 4, 4]), paddle.randn([2, 1, 4, 4])
    penalty = gradient_penalty(critic, real, fake, condition, weight=10.0)
    expected = 10.0 * (3.0 * 4.0 - 1.0) ** 2  # the gradient is 3 at each of the 16 output pixels
    assert math.isclose(float(penalty), expected, rel_tol=1e-5)
