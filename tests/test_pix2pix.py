"""The pix2pix model: one training step's mechanics, direction, reproducibility, and learning on real-looking pairs."""
import numpy as np
import paddle
import pytest

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.config import load_config
from ppix2pix.networks import learnable_parameters
from ppix2pix.pix2pix import Pix2PixModel
from ppix2pix.weights import load_checkpoint

import synthetic


def _model(overrides, seed=0, **extra):
    paddle.seed(seed)
    np.random.seed(seed)
    return Pix2PixModel(load_config(None, overrides + [f"{k}={v}" for k, v in extra.items()]))


def _values(net):
    return [p.numpy().copy() for p in learnable_parameters(net)]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _batch(count=2, seed=0):
    labels, photos = synthetic.pair_batch(count, 64, seed)
    return paddle.to_tensor(labels), paddle.to_tensor(photos)


def test_train_step_returns_all_loss_terms_with_halved_d_loss(tiny_overrides):
    model = _model(tiny_overrides)
    losses = {k: float(v) for k, v in model.train_step(*_batch()).items()}
    assert set(losses) == {"G_GAN", "G_L1", "G", "D_real", "D_fake", "D"}
    assert losses["D"] == pytest.approx(0.5 * (losses["D_real"] + losses["D_fake"]), rel=1e-6)
    assert losses["G"] == pytest.approx(losses["G_GAN"] + losses["G_L1"], rel=1e-6)


def test_discriminator_step_leaves_g_and_generator_step_leaves_d(tiny_overrides):
    model = _model(tiny_overrides)
    real_input, real_target = _batch()
    fake = model.netG(real_input)
    g_before, d_before = _values(model.netG), _values(model.netD)
    model._discriminator_step(real_input, real_target, fake)
    assert _same(g_before, _values(model.netG))
    d_after_d_step = _values(model.netD)
    assert not _same(d_before, d_after_d_step)

    model.optimizers["optimD"].clear_grad()
    model._generator_step(real_input, real_target, fake)
    assert not _same(g_before, _values(model.netG))
    assert _same(d_after_d_step, _values(model.netD))
    # D received no gradient in the G step and is trainable again afterwards.
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in learnable_parameters(model.netD))
    assert all(not p.stop_gradient for p in learnable_parameters(model.netD))


def test_l1_term_is_lambda_times_mean_abs_error(tiny_overrides):
    model = _model(tiny_overrides, **{"model.pixel_criterion.loss_weight": 7})
    real_input, real_target = _batch()
    paddle.seed(3)
    expected = 7 * float((model.netG(real_input) - real_target).abs().mean())
    paddle.seed(3)  # same dropout masks inside the step's forward
    assert float(model.train_step(real_input, real_target)["G_L1"]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("direction,input_side", [("AtoB", "A"), ("BtoA", "B"), ("a2b", "A"), ("b2a", "B")])
def test_direction_picks_the_input_side(tiny_overrides, direction, input_side):
    model = _model(tiny_overrides, **{"model.direction": direction})
    batch = {"A": np.zeros([1, 3, 64, 64], np.float32), "B": np.ones([1, 3, 64, 64], np.float32)}
    real_input, real_target = model.split_batch(batch)
    assert float(real_input.mean()) == (0.0 if input_side == "A" else 1.0)
    assert float(real_target.mean()) == (1.0 if input_side == "A" else 0.0)


def test_same_seed_gives_same_losses(tiny_overrides):
    runs = []
    for _ in range(2):
        model = _model(tiny_overrides, seed=42)
        runs.append([{k: float(v) for k, v in model.train_step(*_batch()).items()} for _ in range(3)])
    assert runs[0] == runs[1]
    other = _model(tiny_overrides, seed=43)
    assert float(other.train_step(*_batch())["G_L1"]) != runs[0][0]["G_L1"]


@pytest.mark.parametrize("gan_mode", ["lsgan", "wgangp", "hinge"])
def test_other_gan_modes_train(tiny_overrides, gan_mode):
    model = _model(tiny_overrides, **{"model.gan_criterion.gan_mode": gan_mode})
    for _ in range(2):
        losses = model.train_step(*_batch())
    assert all(np.isfinite(float(v)) for v in losses.values())


def test_l1_falls_when_training_on_labels_to_photo_pairs(tiny_overrides):
    """A few dozen steps on synthetic facade-like pairs (64x64): the L1 term falls clearly."""
    model = _model(tiny_overrides)
    labels, photos = synthetic.pair_batch(16, 64, seed=0)
    history = []
    for step in range(48):
        index = [(step * 4 + k) % 16 for k in range(4)]
        losses = model.train_step(paddle.to_tensor(labels[index]), paddle.to_tensor(photos[index]))
        history.append(float(losses["G_L1"]))
    first, last = np.mean(history[:6]), np.mean(history[-6:])
    assert last < 0.6 * first, (first, last)


def test_generate_uses_the_configured_test_mode(tiny_overrides):
    model = _model(tiny_overrides, **{"model.test_mode": "eval"})
    x, _ = _batch()
    np.testing.assert_array_equal(model.generate(x).numpy(), model.generate(x).numpy())
    assert not np.allclose(model.generate(x, mode="paper").numpy(), model.generate(x, mode="paper").numpy())


def test_state_dict_round_trip_restores_weights_and_optimizer(tiny_overrides, tmp_path):
    model = _model(tiny_overrides)
    model.train_step(*_batch())
    path = str(tmp_path / "state.pdparams")
    save_checkpoint(model.state_dict(), path)
    state = load_checkpoint(path)
    assert {"netG", "netD", "optimG", "optimD"} <= set(state)
    _model(tiny_overrides, seed=7).train_step(*_batch())  # another model in the process must not matter
    clone = _model(tiny_overrides, seed=5)
    clone.load_state_dict(state)
    assert _same(_values(model.netG), _values(clone.netG))
    assert _same(_values(model.netD), _values(clone.netD))
    paddle.seed(9)
    a = {k: float(v) for k, v in model.train_step(*_batch(seed=1)).items()}
    paddle.seed(9)
    b = {k: float(v) for k, v in clone.train_step(*_batch(seed=1)).items()}
    assert a == b
    assert _same(_values(model.netG), _values(clone.netG))


def test_optimizers_cover_every_learnable_parameter_once(tiny_overrides):
    model = _model(tiny_overrides)
    g_ids = {id(p) for p in model.optimizers["optimG"]._parameter_list}
    d_ids = {id(p) for p in model.optimizers["optimD"]._parameter_list}
    assert g_ids == {id(p) for p in learnable_parameters(model.netG)}
    assert d_ids == {id(p) for p in learnable_parameters(model.netD)}


def test_inference_model_builds_only_the_generator(tiny_overrides):
    model = Pix2PixModel(load_config(None, tiny_overrides), is_train=False)
    assert set(model.nets) == {"netG"}


@pytest.mark.filterwarnings("ignore:.*can only be enabled on CUDAPlace")
def test_amp_code_path_keeps_scaler_state(tiny_overrides, tmp_path):
    """The AMP step (auto_cast + one loss scaler per optimizer) runs and checkpoints its scalers.

    Paddle's autocast and scaler are no-ops on CPU, so the numerics of mixed precision are exercised on GPUs only.
    """
    model = _model(tiny_overrides)
    model.enable_amp("float16")
    losses = model.train_step(*_batch())
    assert all(np.isfinite(float(v)) for v in losses.values())
    state = model.state_dict()
    assert {"scaler_optimG", "scaler_optimD"} <= set(state)
    clone = _model(tiny_overrides)
    clone.enable_amp("float16")
    clone.load_state_dict(state)
    assert clone.scalers["optimG"].state_dict() == model.scalers["optimG"].state_dict()
