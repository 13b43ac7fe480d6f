"""tools/convert.py end to end: foreign weights to a ppix2pix checkpoint that load_generator uses directly, PaddleGAN
layout out, and one-line errors with a non-zero exit code."""
import os
import pickle
import subprocess
import sys

import numpy as np
import paddle
import pytest

from ppix2pix.cli.common import EXIT_USER_ERROR
from ppix2pix.cli.convert import main
from ppix2pix.weights import load_checkpoint, load_generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "torch")


def fixture(name):
    return os.path.join(FIXTURES, name)


def convert(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert.py"), *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_pytorch_file_converts_to_a_checkpoint_that_loads_directly(tmp_path):
    out = str(tmp_path / "facades.pdparams")
    result = convert("--from", "pytorch", fixture("unet_legacy.pth"), "--out", out, "--direction", "BtoA")
    assert result.returncode == 0, result.stderr
    assert "UnetGenerator(input_nc=3, output_nc=3, num_downs=6, ngf=6, norm_type=batch" in result.stdout
    assert "assumed" in result.stdout and "model.generator.use_dropout=True" in result.stdout
    net, cfg = load_generator(out)
    assert cfg["model"]["direction"] == "BtoA" and cfg["model"]["generator"]["num_downs"] == 6
    net.eval()
    with paddle.no_grad():
        output = net(paddle.to_tensor(np.load(fixture("unet_input.npy")))).numpy()
    assert np.abs(output - np.load(fixture("unet_eval.npy"))).max() < 1e-5


def test_user_errors_are_one_line_with_exit_code(tmp_path):
    result = convert("--from", "paddlegan", fixture("unet.pth"), "--out", str(tmp_path / "x.pdparams"))
    assert result.returncode == EXIT_USER_ERROR
    assert result.stderr.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in result.stderr
    assert "use --from pytorch" in result.stderr
    assert not (tmp_path / "x.pdparams").exists()


@pytest.mark.parametrize("argv,message", [
    (["--from", "pytorch", "missing.pth"], "does not exist"),
    (["--from", "pytorch", fixture("unet.pth"), "--netG", "unet_256"], "missing keys"),
    (["--from", "pytorch", fixture("unet.pth"), "--direction", "sideways"], "direction"),
    (["--from", "pytorch", fixture("unet.pth"), "-o", "model.generator.ngf=64"], "shape mismatches"),
    (["--from", "pytorch", fixture("pixel.pth")], "no pix2pix generator"),
    (["--to", "paddlegan", fixture("unet.pth"), "--netG", "unet_256"], "apply to --from"),
])
def test_bad_requests_name_the_problem(tmp_path, capsys, argv, message):
    assert main(argv + ["--out", str(tmp_path / "out.pdparams")]) == EXIT_USER_ERROR
    error = capsys.readouterr().err
    assert error.startswith("error: ") and message in error


def test_flags_override_inference_and_paddlegan_layout_round_trips(tmp_path, capsys):
    converted = str(tmp_path / "resnet.pdparams")
    assert main(["--from", "pytorch", fixture("resnet.pth"), "--out", converted, "--no-dropout",
                 "--norm", "instance", "-o", "model.test_mode=eval"]) == 0
    report = capsys.readouterr().out
    assert "test_mode eval" in report and "padding_type=reflect (reflect and replicate" in report
    paddlegan = str(tmp_path / "resnet_paddlegan.pdparams")
    assert main(["--to", "paddlegan", converted, "--out", paddlegan]) == 0
    with open(paddlegan, "rb") as handle:
        weights = pickle.load(handle, encoding="latin1")["netG"]
    assert weights["model.2.scale"].shape == (8,)  # PaddleGAN's frozen instance-norm affine pair
    back = str(tmp_path / "back.pdparams")
    assert main(["--from", "paddlegan", paddlegan, "--out", back]) == 0
    original, returned = load_checkpoint(converted), load_checkpoint(back)
    assert set(original["netG"]) == set(returned["netG"])
    for key, value in original["netG"].items():
        assert np.array_equal(np.asarray(returned["netG"][key]), np.asarray(value)), key
