"""tools/prepare_data.py: combine, edges, gray, split, demo and check on tiny synthetic images."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

import synthetic
from ppix2pix.cli import prepare_data_run
from ppix2pix.cli.prepare_data import main
from ppix2pix.data import demo, read_image, write_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _halves(path):
    image = read_image(str(path))
    width = image.shape[1] // 2
    return image[:, :width], image[:, width:]


def _write_photos(folder, count, height=48, width=64, seed=0):
    """``count`` synthetic colour photos; returns {file name: RGB array}."""
    rng = np.random.RandomState(seed)
    photos = {}
    for index in range(count):
        photo, _ = synthetic.make_pair(rng, height, width)
        photos[f"{index:02d}.png"] = photo
        write_image(os.path.join(folder, f"{index:02d}.png"), photo)
    return photos


def _leftovers(parent):
    return [name for name in os.listdir(parent) if ".partial-" in name]


# --- combine -----------------------------------------------------------------------------------------------------

@pytest.fixture
def a_b_folders(tmp_path):
    rng = np.random.RandomState(1)
    images = {}
    for index in range(3):
        photo, labels = synthetic.make_pair(rng, 40, 56)
        write_image(str(tmp_path / "A" / f"{index}.png"), photo)
        write_image(str(tmp_path / "B" / f"{index}.jpg" if index == 1 else tmp_path / "B" / f"{index}.png"), labels)
        images[index] = photo, labels
    return str(tmp_path / "A"), str(tmp_path / "B"), images


def test_combine_puts_a_left_and_b_right_pixel_exact(a_b_folders, tmp_path):
    folder_a, folder_b, images = a_b_folders
    out = tmp_path / "AB"
    assert main(["combine", folder_a, folder_b, "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["0.png", "1.png", "2.png"]
    for index in (0, 2):
        left, right = _halves(out / f"{index}.png")
        np.testing.assert_array_equal(left, images[index][0])
        np.testing.assert_array_equal(right, images[index][1])
    left, right = _halves(out / "1.png")  # B was a JPEG: A stays exact, B is what the JPEG decodes to
    np.testing.assert_array_equal(left, images[1][0])
    np.testing.assert_array_equal(right, read_image(os.path.join(folder_b, "1.jpg")))


def test_combine_unmatched_names_is_a_user_error_naming_the_file(a_b_folders, tmp_path, capsys):
    folder_a, folder_b, _ = a_b_folders
    write_image(os.path.join(folder_a, "extra.png"), np.zeros((40, 56, 3), np.uint8))
    assert main(["combine", folder_a, folder_b, "--out", str(tmp_path / "AB")]) == 2
    assert "extra" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "AB")


def test_combine_size_mismatch_names_both_files_unless_resize(a_b_folders, tmp_path, capsys):
    folder_a, folder_b, _ = a_b_folders
    write_image(os.path.join(folder_b, "2.png"), np.zeros((20, 28, 3), np.uint8))
    out = tmp_path / "AB"
    assert main(["combine", folder_a, folder_b, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert os.path.join(folder_a, "2.png") in err and os.path.join(folder_b, "2.png") in err and "--resize" in err
    assert not os.path.exists(out) and not _leftovers(tmp_path)
    assert main(["combine", folder_a, folder_b, "--out", str(out), "--resize", "--ext", ".jpg"]) == 0
    assert read_image(str(out / "2.jpg")).shape == (40, 112, 3)


def test_writing_commands_refuse_a_non_empty_output_unless_overwrite(a_b_folders, tmp_path, capsys):
    folder_a, folder_b, _ = a_b_folders
    out = tmp_path / "AB"
    out.mkdir()
    (out / "old.txt").write_text("keep")
    assert main(["combine", folder_a, folder_b, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (out / "old.txt").exists()
    assert main(["combine", folder_a, folder_b, "--out", str(out), "--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["0.png", "1.png", "2.png"]


def test_output_may_not_contain_the_input(tmp_path, capsys):
    _write_photos(str(tmp_path / "photos"), 2)
    assert main(["gray", str(tmp_path / "photos"), "--out", str(tmp_path), "--overwrite"]) == 2
    assert "contains the input" in capsys.readouterr().err
    assert os.listdir(tmp_path / "photos")


def test_an_interrupted_run_leaves_no_output(tmp_path, monkeypatch):
    _write_photos(str(tmp_path / "photos"), 4)
    real_write, written = prepare_data_run.write_image, []

    def write_then_interrupt(path, image):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(path)
        real_write(path, image)

    monkeypatch.setattr(prepare_data_run, "write_image", write_then_interrupt)
    assert main(["gray", str(tmp_path / "photos"), "--out", str(tmp_path / "pairs")]) == 130
    assert len(written) == 2
    assert sorted(os.listdir(tmp_path)) == ["photos"]


# --- edges and gray ----------------------------------------------------------------------------------------------

def test_edges_follow_the_photo_boundaries_with_edges_left(tmp_path):
    photo = np.full((64, 64, 3), 230, np.uint8)
    photo[16:48, 20:44] = (40, 60, 120)  # one dark rectangle on a light background
    write_image(str(tmp_path / "photos" / "box.png"), photo)
    out = tmp_path / "pairs"
    assert main(["edges", str(tmp_path / "photos"), "--out", str(out)]) == 0
    edges, right = _halves(out / "box.png")
    np.testing.assert_array_equal(right, photo)
    assert (edges[:, :, 0] == edges[:, :, 2]).all()
    dark = edges[:, :, 0] < 128
    boundary = np.zeros((64, 64), bool)
    boundary[14:50, 18:46] = True
    boundary[18:46, 22:42] = False  # a 2-pixel band either side of the rectangle's outline
    assert dark[boundary].sum() >= 80  # the outline is drawn (perimeter 112 pixels)
    assert not dark[~boundary].any()  # and nothing else
    assert (edges[~dark] == 255).all()  # dark lines on white


def test_edges_size_option_resizes_and_center_crops(tmp_path):
    _write_photos(str(tmp_path / "photos" / "sub"), 2, height=48, width=80)
    out = tmp_path / "pairs"
    assert main(["edges", str(tmp_path / "photos"), "--out", str(out), "--size", "32"]) == 0
    assert sorted(os.listdir(out)) == ["sub_00.png", "sub_01.png"]  # recursive input, flat output
    assert read_image(str(out / "sub_00.png")).shape == (32, 64, 3)


def test_gray_half_is_the_photo_luminance(tmp_path):
    photos = _write_photos(str(tmp_path / "photos"), 2)
    out = tmp_path / "pairs"
    assert main(["gray", str(tmp_path / "photos"), "--out", str(out)]) == 0
    for name, photo in photos.items():
        gray, colour = _halves(out / name)
        np.testing.assert_array_equal(colour, photo)
        luma = np.round(photo.astype(np.float64) @ [0.299, 0.587, 0.114])
        assert (gray == gray[:, :, :1]).all()
        assert np.abs(gray[:, :, 0] - luma).max() <= 1
    flipped = tmp_path / "flipped"
    assert main(["gray", str(tmp_path / "photos"), "--out", str(flipped), "--photo-side", "left"]) == 0
    left, right = _halves(flipped / "00.png")
    gray, colour = _halves(out / "00.png")
    np.testing.assert_array_equal(left, colour)
    np.testing.assert_array_equal(right, gray)


# --- split -------------------------------------------------------------------------------------------------------

def _split_of(out):
    return {name: sorted(os.listdir(out / name)) for name in ("train", "val", "test") if (out / name).is_dir()}


def test_split_is_a_seeded_partition(ab_folder, tmp_path):
    names = sorted(os.listdir(ab_folder))
    assert main(["split", ab_folder, "--out", str(tmp_path / "s1"), "--ratios", "0.5,0.25,0.25", "--seed", "3"]) == 0
    first = _split_of(tmp_path / "s1")
    assert [len(first[name]) for name in ("train", "val", "test")] == [6, 3, 3]
    assert sorted(sum(first.values(), [])) == names
    for split, members in first.items():
        for name in members:
            assert (tmp_path / "s1" / split / name).read_bytes() == open(os.path.join(ab_folder, name), "rb").read()
    assert main(["split", ab_folder, "--out", str(tmp_path / "s2"), "--ratios", "0.5,0.25,0.25", "--seed", "3"]) == 0
    assert _split_of(tmp_path / "s2") == first
    assert main(["split", ab_folder, "--out", str(tmp_path / "s3"), "--ratios", "0.5,0.25,0.25", "--seed", "4"]) == 0
    assert _split_of(tmp_path / "s3") != first


def test_split_links_and_reports_empty_splits(ab_folder, tmp_path, capsys):
    out = tmp_path / "split"
    assert main(["split", ab_folder, "--out", str(out), "--ratios", "0.95,0.04,0.01", "--link", "symlink"]) == 0
    stdout = capsys.readouterr().out
    assert "train: 11 files" in stdout and "val: 1 files" in stdout and "test: 0 files" in stdout
    assert "warning: split test" in stdout
    assert sorted(os.listdir(out)) == ["train", "val"]
    linked = out / "train" / sorted(os.listdir(out / "train"))[0]
    assert linked.is_symlink() and os.path.dirname(os.readlink(linked)) == os.path.abspath(ab_folder)


@pytest.mark.parametrize("ratios", ["0.5,0.2,0.2", "1.2,-0.1,-0.1", "0.8,x,0.1", "1"])
def test_split_rejects_bad_ratios(ab_folder, tmp_path, capsys, ratios):
    assert main(["split", ab_folder, "--out", str(tmp_path / "split"), "--ratios", ratios]) == 2
    assert "--ratios" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "split")


# --- demo --------------------------------------------------------------------------------------------------------

DEMO = ["demo", "--train-pairs", "6", "--test-pairs", "2", "--size", "64"]


def test_demo_builds_the_requested_set_and_rerun_is_a_no_op(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(DEMO + ["--out", str(out)]) == 0
    assert "python tools/train.py -c configs/demo.yaml" in capsys.readouterr().out
    train, test = sorted(os.listdir(out / "train")), sorted(os.listdir(out / "test"))
    assert len(train) == 6 and len(test) == 2
    manifest = json.loads((out / "demo.json").read_text())
    assert manifest["task"] == "denoise" and manifest["direction"] == "AtoB" and manifest["train_pairs"] == 6
    for name in train:
        noisy, clean = _halves(out / "train" / name)
        assert noisy.shape == clean.shape == (64, 64, 3) and not (clean == clean[:, :, :1]).all()
        noise = noisy.astype(np.float64) - clean
        unclipped = (clean > 60) & (clean < 195)  # 3.4 sd from both ends: clipping leaves these alone
        assert abs(noise[unclipped].mean()) < 3 and 36 < noise[unclipped].std() < 44
    stamps = {name: os.stat(out / "train" / name).st_mtime_ns for name in train}
    assert main(DEMO + ["--out", str(out)]) == 0
    assert "already" in capsys.readouterr().out
    assert {name: os.stat(out / "train" / name).st_mtime_ns for name in train} == stamps


def test_demo_test_crops_come_from_a_part_of_each_photo_no_training_crop_touches(monkeypatch):
    """Each photo is cut at 70 % of its width: train crops left of the cut, test crops right of it."""
    width = 100
    photo = np.tile(np.arange(width, dtype=np.uint8)[None, :, None], (40, 1, 3))  # pixel value = column
    monkeypatch.setattr(demo, "bundled_photo", lambda name: photo)
    monkeypatch.setattr(demo, "MIN_CONTRAST", 0.0)
    monkeypatch.setattr(demo.cv2, "resize", lambda crop, size, interpolation: crop)  # keep the crop's columns
    monkeypatch.setattr(demo, "make_pair", lambda task, crop, rng: crop)
    columns = {}
    for split in ("train", "test"):
        crops = [crop for _, crop in demo.demo_pairs("denoise", split, 16, 40, np.random.default_rng(0))]
        columns[split] = np.unique(np.concatenate([crop[0, :, 0] for crop in crops]))
    assert columns["train"].max() < 70 <= columns["test"].min()
def test_demo_is_reproducible_with_the_same_seed(tmp_path, capsys):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        assert main(DEMO + ["--task", "edges2photo", "--seed", seed, "--out", str(tmp_path / name)]) == 0
    files = sorted(os.listdir(tmp_path / "a" / "train"))
    read = lambda run: [(tmp_path / run / "train" / f).read_bytes() for f in files]  # noqa: E731
    assert read("a") == read("b")
    assert read("a") != read("c")
    assert "configs/demo_edges.yaml" in capsys.readouterr().out
    edges, _ = _halves(tmp_path / "a" / "train" / files[0])
    assert (edges[:, :, 0] == edges[:, :, 1]).all() and set(np.unique(edges)) <= {0, 255}


def test_demo_refuses_other_parameters_and_foreign_folders(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(DEMO + ["--out", str(out)]) == 0
    assert main(DEMO + ["--out", str(out), "--seed", "5"]) == 2
    assert "seed=0 (asked 5)" in capsys.readouterr().err
    assert main(DEMO + ["--out", str(out), "--seed", "5", "--overwrite"]) == 0
    assert json.loads((out / "demo.json").read_text())["seed"] == 5
    os.remove(out / "train" / sorted(os.listdir(out / "train"))[0])
    assert main(DEMO + ["--out", str(out), "--seed", "5"]) == 2
    assert "incomplete (5 train / 2 test pairs, expected 6 / 2)" in capsys.readouterr().err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(DEMO + ["--out", str(foreign)]) == 2
    assert "--overwrite" in capsys.readouterr().err and (foreign / "notes.txt").exists()


# --- check -------------------------------------------------------------------------------------------------------

def test_check_passes_a_clean_folder(ab_folder, capsys):
    assert main(["check", ab_folder, "--crop-size", "64"]) == 0
    assert "checked 12 files" in capsys.readouterr().out


def test_check_lists_every_problem_of_an_ab_folder(ab_folder, capsys):
    corrupt, truncated, cut_png, odd, small = (os.path.join(ab_folder, name) for name in
                                               ("corrupt.png", "cut.jpg", "cut_png.png", "odd.png", "small.png"))
    with open(corrupt, "wb") as handle:
        handle.write(b"\x89PNG not really an image")
    _, data = cv2.imencode(".jpg", np.random.RandomState(0).randint(0, 256, (64, 128, 3)).astype(np.uint8))
    with open(truncated, "wb") as handle:
        handle.write(data.tobytes()[:len(data) // 2])
    with open(os.path.join(ab_folder, "000.png"), "rb") as source, open(cut_png, "wb") as handle:
        handle.write(source.read()[:-100])
    write_image(odd, np.zeros((64, 127, 3), np.uint8))
    write_image(small, np.zeros((32, 64, 3), np.uint8))
    assert main(["check", ab_folder, "--crop-size", "48"]) == 1
    lines = capsys.readouterr().out.splitlines()
    for path, kind in ((corrupt, "unreadable"), (truncated, "truncated"), (cut_png, "truncated"), (odd, "odd width"),
                       (small, "too small")):
        assert any(line.startswith(f"{path}: {kind}:") for line in lines), (path, lines)
    assert "5 problems in 5 files" in lines[-1]


def test_check_reports_names_that_differ_only_in_extension(ab_folder, capsys):
    duplicate = os.path.join(ab_folder, "000.jpg")
    write_image(duplicate, read_image(os.path.join(ab_folder, "000.png")))
    assert main(["check", ab_folder]) == 1
    reported = [line for line in capsys.readouterr().out.splitlines() if ": duplicate name:" in line]
    assert len(reported) == 1 and duplicate in reported[0] and os.path.join(ab_folder, "000.png") in reported[0]


def test_check_lists_every_problem_of_a_b_folders(a_b_folders, capsys):
    folder_a, folder_b, _ = a_b_folders
    assert main(["check", folder_a, folder_b]) == 0
    write_image(os.path.join(folder_a, "lonely.png"), np.zeros((40, 56, 3), np.uint8))
    write_image(os.path.join(folder_b, "2.png"), np.zeros((20, 28, 3), np.uint8))  # 2.png now differs in size
    write_image(os.path.join(folder_b, "0.bmp"), np.zeros((40, 56, 3), np.uint8))  # a second B image named 0
    assert main(["check", folder_a, folder_b]) == 1
    out = capsys.readouterr().out
    assert f"{os.path.join(folder_a, 'lonely.png')}: unmatched:" in out
    assert f"{os.path.join(folder_a, '2.png')}: size mismatch:" in out and os.path.join(folder_b, "2.png") in out
    assert "duplicate name" in out and "0.bmp" in out


def test_check_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_tools_script_runs_as_a_program(ab_folder):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "prepare_data.py"), "check", ab_folder],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no problems" in result.stdout
