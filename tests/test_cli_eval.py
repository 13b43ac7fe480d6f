"""tools/eval.py: folder-vs-folder scores, AB targets, label-map scores, a checkpoint on a test split, errors."""
import json
import math
import os

import cv2
import numpy as np
import paddle
import pytest

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.cli.evaluate import main as eval_main
from ppix2pix.config import load_config
from ppix2pix.pix2pix import Pix2PixModel


def _write(path, rgb):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, np.ascontiguousarray(np.asarray(rgb, np.uint8)[:, :, ::-1]))


def _constant(value, height=16, width=16):
    return np.full((height, width, 3), value, np.uint8)


def test_folders_matched_by_name_give_hand_computed_scores(tmp_path, capsys):
    for name in ("a", "sub/b"):
        _write(str(tmp_path / "targets" / f"{name}.jpg"), _constant(128))
        _write(str(tmp_path / "outputs" / f"{name}.png"), _constant(138))  # other extension: matched by stem
    _write(str(tmp_path / "outputs" / "index_files" / "a.input.jpg"), _constant(0))  # extra files are ignored
    assert eval_main(["--outputs", str(tmp_path / "outputs"), "--targets", str(tmp_path / "targets")]) == 0
    printed = capsys.readouterr().out
    assert "PSNR" in printed and "SSIM" in printed
    result = json.loads((tmp_path / "outputs" / "metrics.json").read_text())
    assert result["count"] == 2
    assert result["metrics"]["psnr"] == pytest.approx(20 * math.log10(25.5), rel=1e-5)
    assert result["metrics"]["l1"] == pytest.approx(20 / 255, rel=1e-4)
    assert "protocol" in result


def test_targets_can_be_a_half_of_ab_images(tmp_path):
    pair = np.concatenate([_constant(10), _constant(200)], axis=1)
    _write(str(tmp_path / "ab" / "x.png"), pair)
    _write(str(tmp_path / "out" / "x.png"), _constant(200))
    json_path = tmp_path / "scores.json"
    assert eval_main(["--outputs", str(tmp_path / "out"), "--targets", str(tmp_path / "ab"), "--target-side", "B",
                      "--json", str(json_path)]) == 0
    assert json.loads(json_path.read_text())["metrics"]["psnr"] == 100.0
    assert eval_main(["--outputs", str(tmp_path / "out"), "--targets", str(tmp_path / "ab"), "--target-side", "A",
                      "--json", str(json_path)]) == 0
    assert json.loads(json_path.read_text())["metrics"]["l1"] == pytest.approx(2 * 190 / 255, rel=1e-4)


def test_cityscapes_label_scores(tmp_path, capsys):
    road, car, parking = (128, 64, 128), (0, 0, 142), (250, 170, 160)
    target = np.array([[road, road, car, parking]] * 4, np.uint8)
    output = np.array([[road, car, car, car]] * 4, np.uint8)
    _write(str(tmp_path / "t" / "f.png"), target)
    _write(str(tmp_path / "o" / "f.png"), output)
    assert eval_main(["--outputs", str(tmp_path / "o"), "--targets", str(tmp_path / "t"), "--palette",
                      "cityscapes"]) == 0
    assert "class IoU" in capsys.readouterr().out
    scores = json.loads((tmp_path / "o" / "metrics.json").read_text())["segmentation"]
    assert scores["pixel_acc"] == pytest.approx(2 / 3)  # parking (void) is ignored
    assert scores["class_acc"] == pytest.approx((1 / 2 + 1) / 2)
    assert scores["class_iou"] == pytest.approx((1 / 2 + 1 / 2) / 2)  # car: 4 / (4 + 8 - 4)


def test_missing_outputs_are_listed(tmp_path, capsys):
    for name in ("a", "b", "c"):
        _write(str(tmp_path / "t" / f"{name}.png"), _constant(1))
    _write(str(tmp_path / "o" / "a.png"), _constant(1))
    assert eval_main(["--outputs", str(tmp_path / "o"), "--targets", str(tmp_path / "t")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: 2 of 3 targets have no output") and "b.png" in error and "c.png" in error


def test_size_mismatch_names_the_file(tmp_path, capsys):
    _write(str(tmp_path / "t" / "a.png"), _constant(1, 16, 16))
    _write(str(tmp_path / "o" / "a.png"), _constant(1, 16, 20))
    assert eval_main(["--outputs", str(tmp_path / "o"), "--targets", str(tmp_path / "t")]) == 2
    assert "a.png" in capsys.readouterr().err


@pytest.fixture
def checkpoint(tmp_path, tiny_overrides):
    paddle.seed(0)
    cfg = load_config(None, tiny_overrides + ["model.direction=BtoA", "dataset.test.preprocess=none"])
    path = str(tmp_path / "ckpt" / "g.pdparams")
    save_checkpoint({"netG": Pix2PixModel(cfg, is_train=False).netG.state_dict(), "config": cfg}, path)
    return path


def test_checkpoint_on_a_test_split_writes_outputs_and_json(tmp_path, checkpoint, ab_folder, capsys):
    save_dir = tmp_path / "generated"
    assert eval_main(["--checkpoint", checkpoint, "--dataroot", ab_folder, "--save-dir", str(save_dir),
                      "--batch-size", "4", "--test-mode", "eval"]) == 0
    assert "12 test pairs" in capsys.readouterr().out
    result = json.loads((save_dir / "metrics.json").read_text())
    assert result["count"] == 12 and result["direction"] == "BtoA" and result["test_mode"] == "eval"
    assert 0 < result["metrics"]["l1"] < 2 and 0 < result["metrics"]["psnr"] < 100
    assert len([name for name in os.listdir(save_dir) if name.endswith(".png")]) == 12
    # The saved outputs scored against the A halves reproduce the numbers.
    assert eval_main(["--outputs", str(save_dir), "--targets", ab_folder, "--target-side", "A",
                      "--json", str(tmp_path / "again.json")]) == 0
    again = json.loads((tmp_path / "again.json").read_text())["metrics"]
    assert again["psnr"] == pytest.approx(result["metrics"]["psnr"], abs=0.05)


def test_checkpoint_json_goes_next_to_it_by_default(tmp_path, checkpoint, ab_folder):
    assert eval_main(["--checkpoint", checkpoint, "--dataroot", ab_folder, "-o", "dataset.test.max_dataset_size=2",
                      "--test-mode", "eval"]) == 0
    result = json.loads((tmp_path / "ckpt" / "g_eval.json").read_text())
    assert result["count"] == 2


@pytest.mark.parametrize("argv,expected", [
    (["-o", "model.generator.ngf=8"], "only dataset.test"),
    (["--targets", "x"], "--targets"),
    (["--dataroot", "/nonexistent/folder"], "does not exist"),
])
def test_checkpoint_mode_errors(checkpoint, capsys, argv, expected):
    assert eval_main(["--checkpoint", checkpoint] + argv) == 2
    assert expected in capsys.readouterr().err


def test_a_corrupt_output_is_named_and_the_others_are_scored(tmp_path, capsys):
    for name in ("a", "b", "c"):
        _write(str(tmp_path / "t" / f"{name}.png"), _constant(1))
        _write(str(tmp_path / "o" / f"{name}.png"), _constant(1))
    with open(tmp_path / "o" / "b.png", "r+b") as handle:
        handle.truncate(40)  # a truncated PNG
    assert eval_main(["--outputs", str(tmp_path / "o"), "--targets", str(tmp_path / "t")]) == 1
    captured = capsys.readouterr()
    failures = [line for line in captured.err.splitlines() if line.startswith("skipped:")]
    assert len(failures) == 1 and str(tmp_path / "o" / "b.png") in failures[0]
    assert "2 scored, 1 failed" in captured.out
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["count"] == 2 and len(result["failed"]) == 1 and "b.png" in result["failed"][0]


def test_eval_fail_fast_stops_at_the_corrupt_image(tmp_path, capsys):
    for name in ("a", "b"):
        _write(str(tmp_path / "t" / f"{name}.png"), _constant(1))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "a.png").write_bytes(b"garbage")
    _write(str(tmp_path / "o" / "b.png"), _constant(1))
    assert eval_main(["--outputs", str(tmp_path / "o"), "--targets", str(tmp_path / "t"), "--fail-fast"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: ") and "a.png" in error[0]
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_a_corrupt_test_pair_is_skipped_in_checkpoint_mode(tmp_path, checkpoint, ab_folder, capsys):
    (tmp_path / "ab" / "005.png").write_bytes(b"garbage")
    assert eval_main(["--checkpoint", checkpoint, "--dataroot", ab_folder, "--test-mode", "eval"]) == 1
    captured = capsys.readouterr()
    assert "005.png" in captured.err and "11 scored, 1 failed" in captured.out
    assert json.loads((tmp_path / "ckpt" / "g_eval.json").read_text())["count"] == 11


def test_a_missing_dataroot_suggests_the_flag_and_shows_the_absolute_path(tmp_path, checkpoint, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert eval_main(["--checkpoint", checkpoint, "--dataroot", "missing"]) == 2
    error = capsys.readouterr().err
    assert f"resolved to {tmp_path}/missing" in error and "--dataroot" in error and "-o dataset" not in error
