"""The pix2pix model: generator + PatchGAN discriminator, their optimizers, and one training step.

Objective (paper, Eq. 4): G* = arg min_G max_D L_cGAN(G, D) + lambda * L_L1(G). Each step updates D once on
(input, real target) vs (input, G(input).detach()) with the loss halved, then G once through the updated D, which
gets no gradient in that step.
"""
import contextlib

import paddle
import paddle.nn.functional as F
from paddle.utils import unique_name

from .checkpoint import load_net_weights
from .direction import input_and_target, normalize_direction
from . import build
from .losses import GANLoss, at_least_float32, gradient_penalty
from .networks import inference_mode, learnable_parameters
from .schedulers import build_lr_scheduler, step_lr_scheduler

NET_NAMES = ("netG", "netD")
OPTIMIZER_NAMES = ("optimG", "optimD")
LOSS_NAMES = ("G_GAN", "G_L1", "G", "D_real", "D_fake", "D")


class Pix2PixModel:
    """pix2pix built from a resolved config (see :mod:`ppix2pix.config`).

    ``is_train=False`` builds only the generator (inference). Networks are ``netG`` / ``netD`` and optimizers
    ``optimG`` / ``optimD``, as in PaddleGAN, and :meth:`state_dict` uses those keys.
    """

    def __init__(self, cfg, is_train=True, total_epochs=None):
        model_cfg = cfg["model"]
        self.cfg = cfg
        self.direction = normalize_direction(model_cfg["direction"])
        self.test_mode = model_cfg["test_mode"]
        self.netG = _name_parameters(build.generator(model_cfg["generator"]), "netG")
        self.is_train = is_train
        self.amp = False
        self.gradient_hook = None  # called with an optimizer's parameters after backward (distributed averaging)
        if not is_train:
            return
        self.netD = _name_parameters(build.discriminator(model_cfg["discriminator"]), "netD")
        self.gan_loss = GANLoss(model_cfg["gan_criterion"]["gan_mode"])
        self.gan_weight = model_cfg["gan_criterion"]["loss_weight"]
        self.gp_weight = model_cfg["gan_criterion"]["gp_weight"]
        self.l1_weight = model_cfg["pixel_criterion"]["loss_weight"]
        epochs = total_epochs if total_epochs is not None else cfg["epochs"]
        self.lr_schedulers, self.optimizers = {}, {}
        for name in OPTIMIZER_NAMES:
            self.lr_schedulers[name], self.optimizers[name] = self._build_optimizer(cfg, name, epochs)
        self.scalers = {}

    @property
    def nets(self):
        """The networks by PaddleGAN name."""
        return {"netG": self.netG, "netD": self.netD} if self.is_train else {"netG": self.netG}

    def _build_optimizer(self, cfg, name, total_epochs):
        section = cfg["optimizer"][name]
        base_lr = section["learning_rate"] or cfg["lr_scheduler"]["learning_rate"]
        scheduler = build_lr_scheduler(cfg["lr_scheduler"], base_lr, total_epochs)
        parameters = [p for net_name in section["net_names"] for p in learnable_parameters(self.nets[net_name])]
        optimizer = paddle.optimizer.Adam(
            learning_rate=scheduler, beta1=section["beta1"], beta2=section["beta2"], epsilon=section["epsilon"],
            parameters=parameters, weight_decay=section["weight_decay"] or None,
            use_multi_tensor=section["multi_tensor"])
        return scheduler, optimizer

    def enable_amp(self, dtype="float16"):
        """Train with mixed precision (O1) and one dynamic loss scaler per optimizer."""
        self.amp, self.amp_dtype = True, dtype
        self.scalers = {name: paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) for name in OPTIMIZER_NAMES}

    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return paddle.amp.auto_cast(level="O1", dtype=self.amp_dtype)

    def split_batch(self, batch):
        """(input, target) tensors of a ``{A, B}`` batch dict, after the model's direction."""
        a, b = (side if isinstance(side, paddle.Tensor) else paddle.to_tensor(side) for side in (batch["A"], batch["B"]))
        return input_and_target(self.direction, a, b)

    def _optimize(self, loss, name):
        optimizer = self.optimizers[name]
        optimizer.clear_grad(set_to_zero=False)  # drop the gradients instead of zero-filling them: backward refills
        if self.amp:
            self.scalers[name].scale(loss).backward()
        else:
            loss.backward()
        if self.gradient_hook is not None:
            self.gradient_hook(optimizer._parameter_list)
        # Adam creates its moment tensors lazily in the first step, naming them "<parameter name>_<kind>_<n>" with a
        # process-wide counter n; a fresh name scope makes n = 0, so optimizer states load in any process.
        with unique_name.guard():
            if self.amp:
                self.scalers[name].step(optimizer)
                self.scalers[name].update()
            else:
                optimizer.step()

    def train_step(self, real_input, real_target):
        """One D step then one G step on a batch; returns the loss terms as detached scalar tensors.

        The convs record oneDNN backward nodes on CPU (:func:`ppix2pix.accel.recorded_backward`): the step only
        calls ``loss.backward()``, and the WGAN-GP penalty's double backward runs the plain layers.
        """
        with build.recorded_backward():
            with self._autocast():
                fake = self.netG(real_input)
            losses = self._discriminator_step(real_input, real_target, fake)
            losses.update(self._generator_step(real_input, real_target, fake))
        return losses

    def _discriminator_step(self, real_input, real_target, fake):
        _set_trainable(self.netD, True)
        with self._autocast():
            pred_fake = self.netD(paddle.concat([real_input, fake.detach()], axis=1))
            pred_real = self.netD(paddle.concat([real_input, real_target], axis=1))
        loss_fake = self.gan_loss(pred_fake, False)
        loss_real = self.gan_loss(pred_real, True)
        loss_d = 0.5 * (loss_fake + loss_real)
        if self.gan_loss.gan_mode == "wgangp":
            with build.plain_layers():  # the fast forms' slicing crashes Paddle's double backward
                loss_d = loss_d + gradient_penalty(self.netD, real_target, fake, real_input, self.gp_weight)
        self._optimize(loss_d, "optimD")
        return {"D_real": loss_real.detach(), "D_fake": loss_fake.detach(), "D": loss_d.detach()}

    def _generator_step(self, real_input, real_target, fake):
        _set_trainable(self.netD, False)  # D only passes gradients through to G here
        try:
            with self._autocast():
                pred_fake = self.netD(paddle.concat([real_input, fake], axis=1))
            loss_gan = self.gan_loss(pred_fake, True, for_discriminator=False) * self.gan_weight
            loss_l1 = F.l1_loss(at_least_float32(fake), at_least_float32(real_target)) * self.l1_weight
            loss_g = loss_gan + loss_l1
            self._optimize(loss_g, "optimG")
        finally:
            _set_trainable(self.netD, True)
        return {"G_GAN": loss_gan.detach(), "G_L1": loss_l1.detach(), "G": loss_g.detach()}

    @paddle.no_grad()
    def generate(self, real_input, mode=None):
        """G(input) under the test-time mode (the config's ``model.test_mode`` unless given)."""
        with inference_mode(self.netG, mode or self.test_mode):
            return self.netG(real_input)

    def step_schedulers(self, metric=None):
        """Advance both lr schedulers by one epoch (ReduceOnPlateau uses ``metric``)."""
        for scheduler in self.lr_schedulers.values():
            step_lr_scheduler(scheduler, metric)

    def state_dict(self):
        """``{netG, netD, optimG, optimD}`` (optimizer states carry their lr scheduler state)."""
        state = {name: net.state_dict() for name, net in self.nets.items()}
        if self.is_train:
            state.update({name: opt.state_dict() for name, opt in self.optimizers.items()})
            state.update({f"scaler_{name}": s.state_dict() for name, s in self.scalers.items()})
        return state

    def load_state_dict(self, state, strict=True):
        """Load what :meth:`state_dict` wrote; ``strict`` also requires every network key to match."""
        for name, net in self.nets.items():
            if name in state:
                load_net_weights(net, state[name], name, strict=strict)
        if self.is_train:
            for name, optimizer in self.optimizers.items():
                if name in state:
                    optimizer.set_state_dict(state[name])
            for name, scaler in self.scalers.items():
                if f"scaler_{name}" in state:
                    scaler.load_state_dict(state[f"scaler_{name}"])


def _name_parameters(net, prefix):
    """Give parameters stable names ("netG.model.model.0.weight") so optimizer state keys are portable."""
    for name, parameter in net.named_parameters():
        parameter.name = f"{prefix}.{name}"
    return net


def _set_trainable(net, trainable):
    """Switch gradient computation for the learnable parameters of ``net`` (BN statistics stay frozen)."""
    for parameter in learnable_parameters(net):
        parameter.stop_gradient = not trainable
