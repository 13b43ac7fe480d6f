"""tools/infer.py: folders, files and globs, AB pairs, outputs and index page, predictor, and user errors."""
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import paddle
import pytest

from ppix2pix.checkpoint import save_checkpoint
from ppix2pix.cli.evaluate import main as evaluate_main
from ppix2pix.cli.export import main as export_main
from ppix2pix.cli.infer import main as infer_main
from ppix2pix.config import load_config, save_config
from ppix2pix.data.image_io import read_image
from ppix2pix.pix2pix import Pix2PixModel
from ppix2pix.translator import Translator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _checkpoint(folder, overrides, extra=(), weights_only=False):
    paddle.seed(0)
    cfg = load_config(None, overrides + list(extra))
    model = Pix2PixModel(cfg, is_train=False)
    path = os.path.join(folder, "generator.pdparams")
    save_checkpoint({"netG": model.netG.state_dict()} if weights_only else
                    {"netG": model.netG.state_dict(), "config": cfg}, path)
    return path, cfg


@pytest.fixture
def checkpoint(tmp_path, tiny_overrides):
    """A tiny BtoA generator checkpoint (facades-like: B = labels on the right is the input)."""
    return _checkpoint(str(tmp_path), tiny_overrides, ["model.direction=BtoA"])[0]


def _write(path, image):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, image)


def _random(height, width, channels=3, seed=0, dtype=np.uint8):
    high = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, high, (height, width, channels)).astype(dtype).squeeze()


def test_folder_of_plain_images_keeps_names_sub_paths_and_sizes(tmp_path, checkpoint, capsys):
    inputs = tmp_path / "in"
    sizes = {"a.png": (50, 70), "b.jpg": (64, 64), "sub/c.png": (33, 47), "sub/deeper/d.png": (64, 64)}
    for index, (name, (height, width)) in enumerate(sizes.items()):
        _write(str(inputs / name), _random(height, width, seed=index))
    (inputs / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(inputs), "--output", str(out),
                       "--batch-size", "2"]) == 0
    for name, (height, width) in sizes.items():
        assert read_image(str(out / name)).shape == (height, width, 3)
    printed = capsys.readouterr().out
    assert "4 images" in printed and "plain images" in printed
    assert re.search(r"4/4 images\s+[\d.]+ img/s .*ETA", printed)
    page = (out / "index.html").read_text()
    for name in sizes:
        assert f">{name}</a>" in page
    for thumbnail in re.findall(r"src='([^']+)'", page):
        assert (out / thumbnail).is_file()
    assert len(re.findall(r"src='", page)) == 4 * 2  # input and output columns


def test_ab_pairs_are_detected_and_the_input_half_follows_the_direction(tmp_path, checkpoint, ab_folder, capsys):
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out), "--side-by-side",
                       "--test-mode", "eval"]) == 0
    assert ("inputs read as AB pairs (checkpoint trained on AB pairs, every image 2:1); pass --no-ab"
            in capsys.readouterr().out)
    pair = read_image(os.path.join(ab_folder, "003.png"))
    output = read_image(str(out / "003.png"))
    assert output.shape == (64, 64, 3)
    translator = Translator.from_checkpoint(checkpoint, test_mode="eval")
    expected = translator.translate([pair[:, 64:]])[0]  # BtoA: the right half (B) is the input
    assert np.abs(output.astype(float) / 255 - expected).max() <= 1.0 / 255 + 1e-6
    strip = read_image(str(out / "side_by_side" / "003.png"))
    assert strip.shape == (64, 3 * 64, 3)
    np.testing.assert_array_equal(strip[:, :64], pair[:, 64:])  # input | output | target
    np.testing.assert_array_equal(strip[:, 128:], pair[:, :64])
    assert "target" in (out / "index.html").read_text()


def test_no_ab_translates_whole_pair_images(tmp_path, checkpoint, ab_folder):
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out), "--no-ab"]) == 0
    assert read_image(str(out / "000.png")).shape == (64, 128, 3)


def test_single_file_and_glob_inputs(tmp_path, checkpoint):
    for name in ("x/one.png", "y/two.png"):
        _write(str(tmp_path / "in" / name), _random(40, 30))
    (tmp_path / "in" / "y" / "skip.txt").write_text("not an image")
    out = tmp_path / "out_file"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in" / "x" / "one.png"),
                       "--output", str(out)]) == 0
    assert (out / "one.png").is_file()
    out = tmp_path / "out_glob"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in" / "*" / "*.png"),
                       "--output", str(out)]) == 0
    assert (out / "x" / "one.png").is_file() and (out / "y" / "two.png").is_file()


def test_paper_mode_with_a_seed_is_reproducible(tmp_path, checkpoint, ab_folder):
    outputs = []
    for run in range(2):
        out = tmp_path / f"out{run}"
        assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out),
                           "--seed", "3"]) == 0
        outputs.append(read_image(str(out / "005.png")))
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_sixteen_bit_and_grayscale(tmp_path, tiny_overrides):
    checkpoint, _ = _checkpoint(str(tmp_path), tiny_overrides,
                                ["model.generator.input_nc=1", "model.generator.output_nc=1"])
    _write(str(tmp_path / "in" / "deep.png"), _random(40, 52, channels=1, dtype=np.uint16))
    _write(str(tmp_path / "in" / "color.jpg"), _random(40, 52))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out)]) == 0
    deep = read_image(str(out / "deep.png"))
    assert deep.dtype == np.uint16 and deep.shape == (40, 52, 1)
    assert read_image(str(out / "color.jpg")).shape == (40, 52, 1)


def test_weights_only_checkpoint_needs_the_config(tmp_path, tiny_overrides, ab_folder, capsys):
    checkpoint, cfg = _checkpoint(str(tmp_path), tiny_overrides, weights_only=True)
    out = str(tmp_path / "out")
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", out]) == 2
    assert "--config" in capsys.readouterr().err
    save_config(cfg, str(tmp_path / "train.yaml"))
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", out,
                       "--config", str(tmp_path / "train.yaml")]) == 0


def test_predictor_runs_an_exported_model(tmp_path, checkpoint, ab_folder, capsys):
    exported = str(tmp_path / "exported")
    assert export_main(["--checkpoint", checkpoint, "--output", exported, "--test-mode", "eval"]) == 0
    assert re.search(r"max abs difference \d\.\d+e-\d+", capsys.readouterr().out)
    eager, predicted = tmp_path / "eager", tmp_path / "predicted"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(eager),
                       "--test-mode", "eval"]) == 0
    assert infer_main(["--checkpoint", exported, "--predictor", "--input", ab_folder, "--output", str(predicted),
                       "--batch-size", "4"]) == 0
    for name in ("000.png", "011.png"):
        difference = np.abs(read_image(str(eager / name)).astype(int) - read_image(str(predicted / name)))
        assert difference.max() <= 1
    assert infer_main(["--checkpoint", exported, "--predictor", "--test-mode", "paper", "--input", ab_folder,
                       "--output", str(predicted)]) == 2
    assert "re-export" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing checkpoint", "no images", "unreadable image", "export without predictor",
                                  "output is input", "missing input"])
def test_user_errors_exit_non_zero_with_one_line(tmp_path, checkpoint, capsys, case):
    inputs = tmp_path / "in"
    _write(str(inputs / "fine.png"), _random(20, 20))
    args = {"--checkpoint": checkpoint, "--input": str(inputs), "--output": str(tmp_path / "out")}
    expected = {"missing checkpoint": "does not exist", "no images": "no images found",
                "unreadable image": "broken.png", "export without predictor": "--predictor",
                "output is input": "overwrite", "missing input": "does not exist"}[case]
    if case == "missing checkpoint":
        args["--checkpoint"] = str(tmp_path / "nope.pdparams")
    elif case == "no images":
        (tmp_path / "empty").mkdir()
        args["--input"] = str(tmp_path / "empty")
    elif case == "unreadable image":  # without --fail-fast the others are translated (exit code 1, tested below)
        (inputs / "broken.png").write_bytes(b"\x89PNG not really")
        args["--fail-fast"] = None
    elif case == "export without predictor":
        args["--checkpoint"] = str(tmp_path)
    elif case == "output is input":
        args["--output"] = str(inputs)
    else:
        args["--input"] = str(tmp_path / "nowhere")
    assert infer_main([item for pair in args.items() for item in pair if item is not None]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and expected in error and "\n" not in error


def test_tool_script_reports_errors_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "infer.py"), "--checkpoint",
                             str(tmp_path / "missing.pdparams"), "--input", str(tmp_path), "--output",
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "error: " in result.stderr


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="this Paddle build has CUDA")
def test_gpu_request_on_a_cpu_build_is_a_clear_error(tmp_path, checkpoint, ab_folder, capsys):
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(tmp_path / "o"),
                       "--device", "gpu"]) == 2
    assert "paddlepaddle-gpu" in capsys.readouterr().err


def test_progress_line_and_durations(capsys):
    from ppix2pix.cli.common import Progress
    from ppix2pix.training_log import format_duration
    assert [format_duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m05s"]
    progress = Progress(10, interval=3600)
    progress.update(4)  # the first update prints, the next ones wait for the interval, the last one prints
    progress.update(4)
    progress.update(2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].strip().startswith("4/10 images") and lines[1].strip().startswith("10/10")


def test_colorization_checkpoint_colours_plain_images(tmp_path, tiny_overrides, capsys):
    checkpoint, _ = _checkpoint(str(tmp_path), tiny_overrides,
                                ["model.generator.input_nc=1", "model.generator.output_nc=2",
                                 "dataset.train.color_space=lab", "dataset.test.color_space=lab"])
    _write(str(tmp_path / "in" / "photo.png"), _random(48, 80))  # twice as wide as tall, yet not a pair
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out),
                       "--side-by-side"]) == 0
    assert "colorization" in capsys.readouterr().out
    assert read_image(str(out / "photo.png")).shape == (48, 80, 3)
    assert read_image(str(out / "side_by_side" / "photo.png")).shape == (48, 3 * 80, 3)  # gray | output | original
    assert list(json.loads((out / "metrics.json").read_text())["images"]) == ["photo.png"]  # scored on the original
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out),
                       "--ab"]) == 2


@pytest.mark.parametrize("written", ["side-by-side strip", "thumbnail"])
def test_no_file_infer_writes_may_replace_an_input(tmp_path, checkpoint, capsys, written):
    """Not only OUTPUT/<name>: ``--input prev/side_by_side --output prev --side-by-side`` would write its strips over
    its inputs, and an input named like a thumbnail would be replaced by one."""
    out = tmp_path / "prev"
    if written == "side-by-side strip":
        inputs, names, extra = out / "side_by_side", ["a.png"], ["--side-by-side"]
    else:
        inputs, names, extra = out / "index_files", ["a.png", "a.png.output.jpg"], []
    for seed, name in enumerate(names):
        _write(str(inputs / name), _random(24, 24, seed=seed))
    before = {name: (inputs / name).read_bytes() for name in names}
    assert infer_main(["--checkpoint", checkpoint, "--input", str(inputs), "--output", str(out), *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert "would overwrite the input" in error and str(inputs) in error and "\n" not in error
    assert {name: (inputs / name).read_bytes() for name in names} == before


def test_images_differing_only_in_extension_get_their_own_thumbnails(tmp_path, checkpoint):
    for seed, name in enumerate(("a.png", "a.jpg")):
        _write(str(tmp_path / "in" / name), _random(24, 24, seed=seed))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out)]) == 0
    thumbnails = re.findall(r"src='([^']+)'", (out / "index.html").read_text())
    assert len(set(thumbnails)) == 4 and all((out / thumbnail).is_file() for thumbnail in thumbnails)
    inputs = {path: read_image(str(out / path)) for path in thumbnails if ".input." in path}
    assert len(inputs) == 2 and not np.array_equal(*inputs.values())


def _folder_with_a_corrupt_image(tmp_path):
    """Three good images and, second in order, garbage bytes named .png."""
    inputs = tmp_path / "in"
    for index, name in enumerate(("a.png", "c.png", "d.jpg")):
        _write(str(inputs / name), _random(64, 64, seed=index))
    (inputs / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    return inputs


def test_a_corrupt_image_is_named_and_the_others_are_translated(tmp_path, checkpoint, capsys):
    inputs, out = _folder_with_a_corrupt_image(tmp_path), tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(inputs), "--output", str(out)]) == 1
    captured = capsys.readouterr()
    failures = [line for line in captured.err.splitlines() if line.startswith("skipped:")]
    assert len(failures) == 1 and str(inputs / "b.png") in failures[0] and "corrupt" in failures[0]
    assert "3 translated, 1 failed" in captured.out
    for name in ("a.png", "c.png", "d.jpg"):
        assert read_image(str(out / name)).shape == (64, 64, 3)
    assert not (out / "b.png").exists()
    page = (out / "index.html").read_text()
    assert ">a.png</a>" in page and ">d.jpg</a>" in page and "b.png" not in page


def test_fail_fast_stops_at_the_corrupt_image(tmp_path, checkpoint, capsys):
    inputs, out = _folder_with_a_corrupt_image(tmp_path), tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(inputs), "--output", str(out),
                       "--fail-fast"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: ") and "b.png" in error[0]
    assert not (out / "index.html").exists() and not (out / "c.png").exists()


def test_a_corrupt_image_does_not_decide_the_pair_reading(tmp_path, checkpoint, capsys):
    inputs = tmp_path / "in"
    (inputs).mkdir()
    (inputs / "0.png").write_bytes(b"not an image")
    _write(str(inputs / "1.png"), _random(64, 128))
    _write(str(inputs / "2.png"), _random(64, 128, seed=1))
    assert infer_main(["--checkpoint", checkpoint, "--input", str(inputs), "--output", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert "inputs read as AB pairs" in captured.out and "2 translated, 1 failed" in captured.out
    assert read_image(str(tmp_path / "out" / "1.png")).shape == (64, 64, 3)


def test_a_single_two_to_one_image_comes_back_whole(tmp_path, checkpoint, capsys):
    """A lone wide photo is not halved by default, even by a checkpoint trained on AB pairs; --ab splits it."""
    path = str(tmp_path / "in" / "aerial.png")
    _write(path, _random(64, 128))
    assert infer_main(["--checkpoint", checkpoint, "--input", path, "--output", str(tmp_path / "out")]) == 0
    assert read_image(str(tmp_path / "out" / "aerial.png")).shape == (64, 128, 3)
    assert "input read as a whole image (one 2:1 image alone" in capsys.readouterr().out
    assert infer_main(["--checkpoint", checkpoint, "--input", path, "--output", str(tmp_path / "split"),
                       "--ab"]) == 0
    assert read_image(str(tmp_path / "split" / "aerial.png")).shape == (64, 64, 3)
    assert "inputs read as AB pairs (--ab)" in capsys.readouterr().out


def test_one_image_not_two_to_one_makes_the_folder_whole_images(tmp_path, checkpoint, ab_folder, capsys):
    odd = os.path.join(ab_folder, "odd.png")
    _write(odd, _random(64, 96))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out)]) == 0
    assert f"inputs read as whole images (not every image is 2:1: {odd} (96x64)); pass --ab" in capsys.readouterr().out
    assert read_image(str(out / "000.png")).shape == (64, 128, 3)


@pytest.mark.parametrize("layout", [["dataset.train.dataroot_a=a", "dataset.train.dataroot_b=b"],
                                    ["dataset.train.pair_list=pairs.txt"]])
def test_a_checkpoint_trained_on_separate_a_and_b_images_reads_whole_images(tmp_path, tiny_overrides, ab_folder,
                                                                            capsys, layout):
    checkpoint = _checkpoint(str(tmp_path), tiny_overrides, layout)[0]
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out)]) == 0
    assert "inputs read as whole images (checkpoint trained on separate A and B images)" in capsys.readouterr().out
    assert read_image(str(out / "000.png")).shape == (64, 128, 3)


def _page_metrics(page):
    """{image name: [l1, psnr, ssim] as shown} from a results page's rows."""
    rows = re.findall(r">([^<>]+)</a></td>.*?((?:<td class='metric'>[^<]*</td>){3})</tr>", page)
    return {name: re.findall(r"<td class='metric'>([^<]*)</td>", cells) for name, cells in rows}


def test_ab_pairs_get_metrics_on_the_page_and_in_metrics_json(tmp_path, tiny_overrides, ab_folder, capsys):
    from skimage.metrics import structural_similarity
    checkpoint, _ = _checkpoint(str(tmp_path), tiny_overrides,
                                ["model.direction=BtoA", "dataset.train.dataroot=data/facades/train"])
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", ab_folder, "--output", str(out)]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert sorted(result["images"]) == sorted(os.listdir(ab_folder)) and result["count"] == 12
    for name, scores in result["images"].items():  # independently, from the files on disk
        output = read_image(str(out / name)).astype(np.float64)
        target = read_image(os.path.join(ab_folder, name))[:, :64].astype(np.float64)  # BtoA: A is the target
        assert scores["l1"] == pytest.approx(np.abs(output - target).mean() / 255 * 2, abs=1e-5)
        psnr = 10 * np.log10(255 ** 2 / ((output - target) ** 2).mean())
        assert scores["psnr"] == pytest.approx(psnr, abs=1e-4)
        ssim = structural_similarity(target, output, data_range=255, channel_axis=2, win_size=7)
        assert scores["ssim"] == pytest.approx(ssim, abs=1e-4)
    for key in ("l1", "psnr", "ssim"):
        assert result["metrics"][key] == pytest.approx(np.mean([s[key] for s in result["images"].values()]))
    page = (out / "index.html").read_text()
    assert "<h1>facades BtoA with generator.pdparams</h1>" in page  # the default title, from the stored config
    mean = result["metrics"]
    assert (f"mean over 12 images: L1 <b>{mean['l1']:.4f}</b> &middot; PSNR <b>{mean['psnr']:.2f}</b> dB "
            f"&middot; SSIM <b>{mean['ssim']:.4f}</b>") in page
    shown = _page_metrics(page)
    assert shown == {name: [f"{s['l1']:.4f}", f"{s['psnr']:.2f}", f"{s['ssim']:.4f}"]
                     for name, s in result["images"].items()}
    assert f"PSNR {mean['psnr']:.2f} dB" in capsys.readouterr().out
    evaluated = tmp_path / "eval.json"  # tools/eval.py scores the same files with the same numbers
    assert evaluate_main(["--outputs", str(out), "--targets", ab_folder, "--target-side", "A",
                          "--json", str(evaluated)]) == 0
    assert json.loads(evaluated.read_text())["metrics"] == pytest.approx(mean)


def test_plain_images_get_no_metrics_and_a_given_title(tmp_path, checkpoint):
    _write(str(tmp_path / "in" / "a.png"), _random(32, 32))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out),
                       "--title", "labels -> facades <demo>"]) == 0
    page = (out / "index.html").read_text()
    assert "<h1>labels -&gt; facades &lt;demo&gt;</h1>" in page
    assert "PSNR" not in page and "mean over" not in page and not (out / "metrics.json").exists()
    assert not (out / "index_2.html").exists() and "next" not in page


def test_many_images_are_paginated_with_lazy_thumbnails(tmp_path, checkpoint):
    names = [f"{index:03d}.png" for index in range(120)]
    for index, name in enumerate(names):
        _write(str(tmp_path / "in" / name), _random(16, 16, seed=index))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out),
                       "--batch-size", "8"]) == 0
    page, seen, visited = "index.html", [], []
    while page:  # follow the next links from the first page, and check each previous link goes back
        text = (out / page).read_text()
        assert f"page {len(visited) + 1} of 3" in text
        images = re.findall(r"<img [^>]*>", text)
        assert images and all("loading='lazy'" in image for image in images)
        seen += re.findall(r">(\d{3}\.png)</a>", text)
        previous = re.findall(r"<a rel='prev' href='([^']+)'", text)
        assert previous == ([visited[-1]] * 2 if visited else [])  # above and below the table
        visited.append(page)
        following = set(re.findall(r"<a rel='next' href='([^']+)'", text))
        page = following.pop() if following else None
    assert visited == ["index.html", "index_2.html", "index_3.html"]
    assert seen == names


def test_images_larger_than_a_given_tile_are_tiled(tmp_path, checkpoint, capsys):
    from ppix2pix.tiling import TiledTranslator
    _write(str(tmp_path / "in" / "big.png"), _random(100, 150))
    image = read_image(str(tmp_path / "in" / "big.png"))
    _write(str(tmp_path / "in" / "small.png"), _random(40, 50))
    out = tmp_path / "out"
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output", str(out),
                       "--tile", "64", "--tile-overlap", "16", "--test-mode", "eval"]) == 0
    assert ("tiling: images larger than 64x64 go through in 64x64 tiles overlapping by 16 px"
            in capsys.readouterr().out)
    output = read_image(str(out / "big.png"))
    tiler = TiledTranslator(Translator.from_checkpoint(checkpoint, test_mode="eval"), tile=64, overlap=16)
    assert len(tiler.grid(100, 150)) == 12
    expected = tiler.translate([image])[0]
    assert np.abs(output.astype(float) / 255 - expected).max() <= 1.0 / 255 + 1e-6
    assert read_image(str(out / "small.png")).shape == (40, 50, 3)


@pytest.mark.parametrize("options, message", [
    (["--tile", "100"], "tile size 100 is not a multiple of 64, the generator's size multiple; try 128"),
    (["--tile", "-64"], "tile size must be 0 (no tiling) or a positive multiple of 64, got -64"),
    (["--tile", "64", "--tile-overlap", "64"], "tile overlap 64 must be smaller than the tile size 64"),
    (["--tile-overlap", "-8"], "tile overlap must be 0 or more pixels, got -8"),
    (["--max-pixels", "-1"], "max pixels must be 0 (no automatic tiling) or more, got -1")])
def test_tiling_options_that_cannot_work_are_one_line_errors(tmp_path, checkpoint, capsys, options, message):
    _write(str(tmp_path / "in" / "a.png"), _random(20, 20))
    assert infer_main(["--checkpoint", checkpoint, "--input", str(tmp_path / "in"), "--output",
                       str(tmp_path / "out"), *options]) == 2
    assert capsys.readouterr().err == f"error: {message}\n"
