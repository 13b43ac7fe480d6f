"""PairedDataset items: AB and A/B folder layouts, channels (grayscale, 16-bit) and the Lab colorization sides."""
import os

import numpy as np
import pytest

from data_helpers import as_model, make_dataset, noise, write_ab
from ppix2pix.data import write_image
from ppix2pix.data.color import lab_to_rgb

NO_RESIZE = {"preprocess": "none", "generator": {"num_downs": 3}}  # 64 x 64 sides stay untouched


def test_ab_folder_items_hold_the_left_and_right_halves(tmp_path):
    halves = {name: (noise(64, 64, seed=2 * i), noise(64, 64, seed=2 * i + 1)) for i, name in enumerate("pq")}
    for name, (a, b) in halves.items():
        write_ab(tmp_path / f"{name}.png", a, b)
    dataset = make_dataset(train=False, dataroot=str(tmp_path), **NO_RESIZE)
    assert len(dataset) == 2
    for index, name in enumerate("pq"):
        item = dataset[index]
        assert set(item) == {"A", "B", "A_path", "B_path"}
        assert item["A_path"] == item["B_path"] == str(tmp_path / f"{name}.png")
        assert item["A"].dtype == np.float32
        np.testing.assert_allclose(item["A"], as_model(halves[name][0]), atol=1e-6)
        np.testing.assert_allclose(item["B"], as_model(halves[name][1]), atol=1e-6)


def test_a_and_b_folders_are_paired_by_file_name(tmp_path):
    folders = {side: tmp_path / side for side in "AB"}
    images = {}
    # B is written in another format and listed in another order: pairing must go by name, not position.
    for index, stem in enumerate(["x", "y", "z"]):
        images[stem] = noise(64, 64, seed=2 * index), noise(64, 64, seed=2 * index + 1)
        write_image(str(folders["A"] / f"{stem}.png"), images[stem][0])
        write_image(str(folders["B"] / f"{stem}.bmp"), images[stem][1])
    dataset = make_dataset(train=False, dataroot_a=str(folders["A"]), dataroot_b=str(folders["B"]), **NO_RESIZE)
    assert [os.path.basename(dataset[i]["B_path"]) for i in range(3)] == ["x.bmp", "y.bmp", "z.bmp"]
    for index, stem in enumerate(["x", "y", "z"]):
        item = dataset[index]
        assert item["A_path"] == str(folders["A"] / f"{stem}.png")
        np.testing.assert_allclose(item["A"], as_model(images[stem][0]), atol=1e-6)
        np.testing.assert_allclose(item["B"], as_model(images[stem][1]), atol=1e-6)


@pytest.mark.parametrize("direction, gray_side", [("AtoB", "A"), ("BtoA", "B")])
def test_grayscale_input_side_has_one_channel_of_luma(tmp_path, direction, gray_side):
    a, b = noise(64, 64, seed=1), noise(64, 64, seed=2)
    write_ab(tmp_path / "g.png", a, b)
    item = make_dataset(train=False, dataroot=str(tmp_path), direction=direction, preprocess="none",
                        generator={"num_downs": 3, "input_nc": 1})[0]
    color_side = "B" if gray_side == "A" else "A"
    assert item[gray_side].shape == (1, 64, 64) and item[color_side].shape == (3, 64, 64)
    rgb = (a if gray_side == "A" else b).astype(np.float32) / 255
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(item[gray_side][0], luma * 2 - 1, atol=1e-5)


def test_grayscale_files_feed_three_channel_sides(tmp_path):
    gray = noise(64, 128, channels=1, seed=3)
    write_image(str(tmp_path / "gray.png"), gray)
    item = make_dataset(train=False, dataroot=str(tmp_path), **NO_RESIZE)[0]
    assert item["A"].shape == (3, 64, 64)
    for channel in range(3):
        np.testing.assert_allclose(item["A"][channel], as_model(gray[:, :64])[0], atol=1e-6)


def test_16_bit_png_is_read_at_full_precision(tmp_path):
    a = noise(64, 64, seed=4, dtype=np.uint16)
    b = (np.arange(64 * 64 * 3, dtype=np.uint16).reshape(64, 64, 3) * 5 + 3)  # values no 8-bit scale can hold
    write_ab(tmp_path / "deep.png", a, b)
    item = make_dataset(train=False, dataroot=str(tmp_path), **NO_RESIZE)[0]
    np.testing.assert_allclose(item["A"], as_model(a), atol=1e-6)
    np.testing.assert_allclose(item["B"], as_model(b), atol=1e-6)
    eight_bit = np.round((item["B"] + 1) / 2 * 255) / 255 * 2 - 1
    assert np.abs(item["B"] - eight_bit).max() > 1e-3


def test_lab_colorization_gives_l_in_ab_out_and_saving_inverts_it(tmp_path):
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) / 63
    photo = (np.stack([xx, yy, 1 - xx * yy], axis=2) * 200 + 25).astype(np.uint8)
    write_image(str(tmp_path / "photo.png"), photo)
    item = make_dataset(train=False, dataroot=str(tmp_path), color_space="lab", preprocess="none",
                        generator={"num_downs": 3, "input_nc": 1, "output_nc": 2})[0]
    assert item["A"].shape == (1, 64, 64) and item["B"].shape == (2, 64, 64)
    assert -1 <= item["A"].min() and item["A"].max() <= 1 and np.abs(item["B"]).max() <= 1
    assert np.abs(item["B"]).max() > 0.1  # the colour really is in ab
    np.testing.assert_allclose(lab_to_rgb(item["A"], item["B"]), photo / 255.0, atol=1e-3)


def test_max_dataset_size_keeps_the_first_pairs(tmp_path):
    for index in range(5):
        write_ab(tmp_path / f"{index}.png", noise(64, 64, seed=index), noise(64, 64, seed=index))
    dataset = make_dataset(dataroot=str(tmp_path), max_dataset_size=3, **NO_RESIZE)
    assert [os.path.basename(a) for a, _ in dataset.pairs] == ["0.png", "1.png", "2.png"]
