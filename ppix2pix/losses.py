"""The adversarial objectives (vanilla, lsgan, wgangp, hinge) and the WGAN-GP gradient penalty."""
import paddle
import paddle.nn.functional as F

GAN_MODES = ("vanilla", "lsgan", "wgangp", "hinge")
LOW_PRECISION = (paddle.float16, paddle.bfloat16)


def at_least_float32(x):
    """``x`` in float32 when it is half precision (mixed-precision outputs), else as it is (float32, float64)."""
    return x.astype("float32") if x.dtype in LOW_PRECISION else x


class GANLoss:
    """Adversarial loss on discriminator logits of any shape (targets are built per call, never cached).

    ``loss(prediction, target_is_real, for_discriminator)``: the flag only matters for hinge, whose generator loss
    is ``-mean(D(fake))`` while the discriminator uses ``relu(1 -+ D)``.
    """

    def __init__(self, gan_mode="vanilla", real_label=1.0, fake_label=0.0):
        if gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode must be one of {', '.join(GAN_MODES)}, got {gan_mode!r}")
        self.gan_mode = gan_mode
        self.real_label, self.fake_label = real_label, fake_label

    def __call__(self, prediction, target_is_real, for_discriminator=True):
        prediction = at_least_float32(prediction)
        if self.gan_mode in ("vanilla", "lsgan"):
            target = paddle.full_like(prediction, self.real_label if target_is_real else self.fake_label)
            if self.gan_mode == "vanilla":
                return F.binary_cross_entropy_with_logits(prediction, target)
            return F.mse_loss(prediction, target)
        if self.gan_mode == "wgangp":
            return -prediction.mean() if target_is_real else prediction.mean()
        if not for_discriminator:  # hinge, generator side
            return -prediction.mean()
        return F.relu(1.0 - prediction).mean() if target_is_real else F.relu(1.0 + prediction).mean()


def gradient_penalty(net_d, real, fake, condition, weight=10.0):
    """WGAN-GP penalty ``weight * E[(||grad D(condition, x_hat)||_2 - 1)^2]`` on random real/fake interpolates.

    The condition (the generator's input) is the same for both ends, so only the output side is interpolated.
    It needs double backward through ``net_d``: run an accelerated network in its plain form
    (:func:`ppix2pix.accel.plain_layers`).
    """
    alpha = paddle.rand([real.shape[0], 1, 1, 1], dtype=real.dtype)
    interpolate = alpha * real + (1.0 - alpha) * fake.detach()
    interpolate.stop_gradient = False
    # Paddle's concat double-grad needs every input to take gradients (it fails on an empty grad slot).
    condition = condition.detach()
    condition.stop_gradient = False
    prediction = net_d(paddle.concat([condition, interpolate], axis=1))
    (grad,) = paddle.grad(prediction, interpolate, grad_outputs=paddle.ones_like(prediction), create_graph=True)
    norms = (grad.reshape([grad.shape[0], -1]) ** 2).sum(axis=1).add(paddle.to_tensor(1e-16)).sqrt()
    return weight * ((norms - 1.0) ** 2).mean()
