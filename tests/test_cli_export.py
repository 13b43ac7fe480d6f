"""tools/export.py: files written, parity check printed, paper mode, ONNX switch and user errors."""
import importlib.util
import os

import paddle
import pytest
import yaml

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.cli.export import main as export_main
from ppix2pix.config import load_config
from ppix2pix.pix2pix import Pix2PixModel


@pytest.fixture
def checkpoint(tmp_path, tiny_overrides):
    paddle.seed(0)
    cfg = load_config(None, tiny_overrides)
    path = str(tmp_path / "g.pdparams")
    save_checkpoint({"netG": Pix2PixModel(cfg, is_train=False).netG.state_dict(), "config": cfg}, path)
    return path


def test_default_export_uses_the_checkpoint_test_mode(tmp_path, checkpoint, capsys):
    out = tmp_path / "exported"
    assert export_main(["--checkpoint", checkpoint, "--output", str(out)]) == 0
    assert {"generator.json", "generator.pdiparams", "ppix2pix_export.yaml"} <= set(os.listdir(out))
    info = yaml.safe_load((out / "ppix2pix_export.yaml").read_text())
    assert info["test_mode"] == "paper" and info["size_multiple"] == 64
    assert "parity check skipped" in capsys.readouterr().out


def test_eval_export_prints_the_parity_check(tmp_path, checkpoint, capsys):
    assert export_main(["--checkpoint", checkpoint, "--output", str(tmp_path / "e"), "--test-mode", "eval",
                        "--check-size", "128"]) == 0
    assert "2x128x128): max abs difference" in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("paddle2onnx") is not None, reason="paddle2onnx is installed")
def test_onnx_without_paddle2onnx_is_a_clear_error(tmp_path, checkpoint, capsys):
    assert export_main(["--checkpoint", checkpoint, "--output", str(tmp_path / "e"), "--onnx",
                        "--test-mode", "eval"]) == 2
    assert "pip install paddle2onnx" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()  # checked before anything is written


@pytest.mark.parametrize("argv,expected", [
    (["--checkpoint", "missing.pdparams"], "does not exist"),
    (["--onnx", "--test-mode", "paper"], "eval only"),
    (["--check-size", "100", "--test-mode", "eval"], "multiple of 64"),
])
def test_user_errors(tmp_path, checkpoint, capsys, argv, expected):
    args = ["--checkpoint", checkpoint, "--output", str(tmp_path / "e")] + argv
    assert export_main(args) == 2
    assert expected in capsys.readouterr().err
