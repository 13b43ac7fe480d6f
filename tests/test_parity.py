"""Training parity with the reference pix2pix, part by part, against PyTorch's own numbers.

tests/fixtures/parity/step.npz was recorded by PyTorch (tests/fixtures/make_parity_fixtures.py, the official step of
benchmarks/reference_torch.py) for small networks of the paper's shape; with ``TORCH_PYTHON`` set, the last test
re-records it and checks the stored copy. What each test guards:

* the first step's gradients (D's of the D step, G's of the G step, left in ``.grad`` as the official code leaves
  them) in float32, judged against PyTorch's float64 gradients relative to PyTorch's own float32 error;
* a float64 run of several Adam steps with shared dropout masks: every loss term, the BatchNorm running statistics
  and the eval-mode output afterwards (float32 trajectories of two frameworks part chaotically, float64 ones do not);
* dropout: rate, scale and placement; BatchNorm: the running variance takes the unbiased batch variance;
* the training reader: pixel for pixel the reference's Pillow pipeline (bicubic resize, crop, flip, normalize);
* the training random stream (dropout) is not the weight-initialization stream replayed.
"""
import os
import subprocess

import numpy as np
import paddle
import pytest
from PIL import Image

from ppix2pix.config import load_config
from ppix2pix.data import PairedDataset
from ppix2pix.interop.layouts import pytorch_names
from ppix2pix.accel import plain_layers, recorded_backward
from ppix2pix.build import generator as build_generator
from ppix2pix.networks.norm import BatchNorm2D
from ppix2pix.pix2pix import Pix2PixModel
from ppix2pix.rng import training_seed

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE_PATH = os.path.join(HERE, "fixtures", "parity", "step.npz")
FIXTURE = dict(np.load(FIXTURE_PATH))
STEPS = len([key for key in FIXTURE if key.startswith("input/")])
NETWORKS = ["model.generator.num_downs=6", "model.generator.ngf=2", "model.generator.use_dropout=true",
            "model.discriminator.ndf=4", "model.discriminator.n_layers=3"]
GRADIENT_ERROR_FACTOR = 10  # ppix2pix's float32 error may be this many times PyTorch's own
GRADIENT_ERROR_FLOOR = 1e-5
FLOAT64_TOLERANCE = 1e-7


def _recorded(prefix):
    return {key[len(prefix):]: value for key, value in FIXTURE.items() if key.startswith(prefix)}


def _share_dropout_masks(net):
    """Make every Dropout of ``net`` multiply by the mask set with the returned function (the fixture's draw)."""
    dropouts = [layer for layer in net.sublayers() if isinstance(layer, paddle.nn.Dropout)]
    masks = {}
    for layer in dropouts:
        layer.forward = lambda x: x * masks["current"].astype(x.dtype)

    def set_mask(mask):
        masks["current"] = paddle.to_tensor(mask)
    return set_mask


def _model(dtype, multi_tensor=True):
    adam = [f"optimizer.{name}.multi_tensor={str(multi_tensor).lower()}" for name in ("optimG", "optimD")]
    paddle.set_default_dtype(dtype)
    try:
        model = Pix2PixModel(load_config(None, NETWORKS + adam), total_epochs=1)
    finally:
        paddle.set_default_dtype("float32")
    for name, net in (("G", model.netG), ("D", model.netD)):
        weights = pytorch_names(_recorded(f"init/{name}/"))
        net.set_state_dict({key: value.astype(dtype) for key, value in weights.items()})
    return model, _share_dropout_masks(model.netG)


def _step(model, set_mask, k, dtype):
    set_mask(FIXTURE[f"mask/{k}"].astype(dtype))
    real_input, real_target = (paddle.to_tensor(FIXTURE[f"{side}/{k}"].astype(dtype)) for side in ("input", "target"))
    return model.train_step(real_input, real_target)


def _relative_error(net, recorded):
    grads = {name: parameter.grad for name, parameter in net.named_parameters() if not name.endswith(("_mean",
                                                                                                       "_variance"))}
    expected = pytorch_names(recorded)
    assert sorted(grads) == sorted(expected)
    assert all(grad is not None for grad in grads.values())
    ours = np.concatenate([grads[key].numpy().ravel() for key in sorted(expected)])
    theirs = np.concatenate([expected[key].ravel() for key in sorted(expected)]).astype(np.float64)
    return np.linalg.norm(ours - theirs) / np.linalg.norm(theirs)


@pytest.mark.parametrize("layers", ["fast", "plain"])
def test_first_step_gradients_match_the_reference(layers):
    """D's gradient (D step) and G's (G step, through the updated and frozen D) against PyTorch in float64."""
    model, set_mask = _model("float32")
    if layers == "plain":
        with plain_layers():
            _step(model, set_mask, 0, np.float32)
    else:
        _step(model, set_mask, 0, np.float32)
    for name, net in (("G", model.netG), ("D", model.netD)):
        bound = max(GRADIENT_ERROR_FACTOR * float(FIXTURE[f"grad_error32/{name}"]), GRADIENT_ERROR_FLOOR)
        error = _relative_error(net, _recorded(f"grad64/{name}/"))
        assert error < bound, f"net{name} gradients differ from the reference by {error:.2e} (bound {bound:.2e})"


def test_float64_training_trajectory_matches_the_reference():
    """Losses of every step, BatchNorm statistics and the eval-mode output after several Adam steps (float64; Paddle's
    multi-tensor Adam takes float32 only, its equality with the per-parameter Adam is the next test's)."""
    model, set_mask = _model("float64", multi_tensor=False)
    losses = [_step(model, set_mask, k, np.float64) for k in range(STEPS)]
    for name, recorded in _recorded("loss64/").items():
        ours = np.array([float(step[name]) for step in losses])
        np.testing.assert_allclose(ours, recorded, rtol=FLOAT64_TOLERANCE, err_msg=f"loss {name}")
    for name, net in (("G", model.netG), ("D", model.netD)):
        state = net.state_dict()
        for key, value in pytorch_names(_recorded(f"final64/{name}/")).items():
            np.testing.assert_allclose(state[key].numpy(), value, rtol=FLOAT64_TOLERANCE, atol=1e-9,
                                       err_msg=f"net{name} {key}")
    model.netG.eval()
    with paddle.no_grad():
        output = model.netG(paddle.to_tensor(FIXTURE["eval_input"].astype(np.float64))).numpy()
    np.testing.assert_allclose(output, FIXTURE["eval_output64"], rtol=0, atol=1e-9)


def test_multi_tensor_adam_is_the_per_parameter_adam():
    """The default fused Adam (float32) takes the same steps as the per-parameter one the float64 run checks."""
    runs = []
    for multi_tensor in (True, False):
        model, set_mask = _model("float32", multi_tensor)
        losses = [_step(model, set_mask, k, np.float32) for k in range(3)]
        runs.append(([float(step["G"]) for step in losses],
                     np.concatenate([p.numpy().ravel() for p in model.netG.parameters()])))
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=1e-5)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=0, atol=1e-6)


def test_dropout_is_the_papers():
    """num_downs - 5 Dropout(0.5) layers after the up-norms of the innermost ngf*8 blocks: half the units kept,
    scaled by 2, in training (and the paper's test mode); none dropped in eval mode."""
    paddle.seed(3)
    net = build_generator(load_config(None, ["model.generator.num_downs=7", "model.generator.ngf=2"])
                          ["model"]["generator"])
    dropouts = [layer for layer in net.sublayers() if isinstance(layer, paddle.nn.Dropout)]
    assert len(dropouts) == 7 - 5
    outputs = []
    for layer in dropouts:
        layer.register_forward_post_hook(lambda layer, inputs, output: outputs.append((inputs[0], output)))
    net.train()
    with paddle.no_grad():
        net(paddle.rand([8, 3, 128, 128]) * 2 - 1)
    for source, dropped in outputs:
        source, dropped = source.numpy(), dropped.numpy()
        kept = dropped != 0
        assert abs(kept.mean() - 0.5) < 0.02
        np.testing.assert_allclose(dropped[kept], 2.0 * source[kept], rtol=1e-6)
    outputs.clear()
    net.eval()
    with paddle.no_grad():
        net(paddle.rand([1, 3, 128, 128]))
    assert all(np.array_equal(source.numpy(), dropped.numpy()) for source, dropped in outputs)


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("layers", ["fast", "plain"])
def test_batch_norm_running_variance_is_unbiased(layers, layout):
    """running_var = 0.9 running_var + 0.1 * var(batch, unbiased), PyTorch's rule, on every batch-norm path."""
    x = np.random.default_rng(1).normal(1.0, 3.0, (1, 4, 2, 2)).astype(np.float32)
    norm = BatchNorm2D(4, momentum=0.9, epsilon=1e-5)
    norm.train()
    tensor = paddle.to_tensor(x)
    if layout == "channels_last":
        tensor = tensor.transpose([0, 2, 3, 1]).contiguous().transpose([0, 3, 1, 2])
    if layers == "plain":
        with plain_layers():
            norm(tensor)
    else:
        with recorded_backward():
            norm(tensor)
    np.testing.assert_allclose(norm._variance.numpy(), 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    np.testing.assert_allclose(norm._mean.numpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-7)


def _reference_pair(path, load_size, crop_size, left, top, flip):
    """The official aligned dataset's (A, B) for given crop and flip: Pillow bicubic resize, crop, flip, [-1, 1]."""
    image = Image.open(path).convert("RGB")
    half = image.size[0] // 2
    sides = []
    for box in ((0, 0, half, image.size[1]), (half, 0, image.size[0], image.size[1])):
        side = image.crop(box).resize((load_size, load_size), Image.BICUBIC)
        side = side.crop((left, top, left + crop_size, top + crop_size))
        if flip:
            side = side.transpose(Image.FLIP_LEFT_RIGHT)
        sides.append((np.asarray(side, np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5)
    return sides


def test_training_pairs_are_the_reference_pixels(tmp_path):
    """Each training pair equals the reference pipeline's for the same crop and flip (sharp edges included, where
    OpenCV's cubic filter differs most)."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)
    ab = np.kron(blocks, np.ones((16, 16, 1), np.uint8)) ^ rng.integers(0, 24, (256, 512, 3), dtype=np.uint8)
    Image.fromarray(ab).save(tmp_path / "pair.png")
    cfg = load_config(None, [f"dataset.train.dataroot={tmp_path}", "dataset.train.load_size=143",
                             "dataset.train.crop_size=128", "model.generator.num_downs=7"])
    dataset = PairedDataset(cfg["dataset"]["train"], cfg["model"], train=True, seed=5, size_multiple=128)
    for epoch in range(4):
        dataset.set_epoch(epoch)
        item = dataset[0]
        geometry = dataset.transform.draw(np.random.default_rng([5, epoch, 0]), 256, 256)
        top, left, _ = geometry["crop"]
        expected_a, expected_b = _reference_pair(tmp_path / "pair.png", 143, 128, left, top, geometry["flip"])
        np.testing.assert_allclose(item["A"], expected_a, atol=1e-6)
        np.testing.assert_allclose(item["B"], expected_b, atol=1e-6)


def test_training_randomness_is_not_the_initialization_stream():
    """Dropout draws come from their own stream, not a replay of the numbers the initial weights were drawn from."""
    seed = 7
    paddle.seed(seed)
    init_stream = paddle.rand([64]).numpy()
    paddle.seed(training_seed(seed, rank=0))
    training_stream = paddle.rand([64]).numpy()
    assert not np.allclose(init_stream, training_stream)
    assert training_seed(seed, 0) != training_seed(seed, 1)


@pytest.mark.skipif(not os.environ.get("TORCH_PYTHON"), reason="set TORCH_PYTHON to a python with torch")
def test_fixture_is_what_pytorch_records(tmp_path):
    """The stored fixture is reproduced by the PyTorch reference now (guards against a stale or edited file)."""
    out = tmp_path / "step.npz"
    script = os.path.join(HERE, "fixtures", "make_parity_fixtures.py")
    subprocess.run([os.environ["TORCH_PYTHON"], script, str(out)], check=True, capture_output=True)
    fresh = np.load(out)
    assert sorted(fresh.files) == sorted(FIXTURE)
    for key in fresh.files:
        np.testing.assert_allclose(fresh[key], FIXTURE[key], rtol=1e-6, atol=1e-9, err_msg=key)
