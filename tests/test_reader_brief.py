"""The brief's reader snippet runs as written (only the import line is ppix2pix's), and the cfg forms it implies.

Each of the four ways it used to fail has a test: a plain CFG object, crop_size 224 with no generator named, a
training-args object with keys the reader does not read, and ``train_reader, _, _ = reader.make_data()``.
"""
import argparse
import os
import warnings

import numpy as np
import pytest

from data_helpers import ab_tree, noise, write_ab
from ppix2pix import data_reader
from ppix2pix.config import ConfigError
from ppix2pix.data import DataError
from ppix2pix.legacy_reader import data_reader as data_reader_from_module


class CFG:
    """A plain class, as in the brief."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """data_dir/data10830/{train (3 pairs), test (2 pairs)} of 256 x 256 AB halves."""
    root = tmp_path_factory.mktemp("brief")
    ab_tree(root / "data10830", {"train": 3, "test": 2}, size=256)
    return str(root)


def test_the_brief_snippet_runs_as_written(data_dir):
    cfg = CFG()
    cfg.data_dir = os.path.join(data_dir, 'data10830')
    cfg.batch_size = 1
    cfg.load_size = 256
    cfg.crop_size = 224
    reader = data_reader(cfg)
    train_reader, _, _ = reader.make_data()
    data = next(train_reader())      # shape [2, N, C, H, W]: index 0 input, 1 target
    assert data.shape == (2, 1, 3, 224, 224) and data.dtype == np.float32
    assert -1.0 <= data.min() and data.max() <= 1.0 and not np.array_equal(data[0], data[1])


def test_both_import_paths_give_the_reader():
    assert data_reader is data_reader_from_module


def test_batch_two_namespace_with_training_keys_and_dict(data_dir):
    root = os.path.join(data_dir, "data10830")
    namespace = argparse.Namespace(data_dir=root, batch_size=2, load_size=256, crop_size=224, model_net="Pix2pix",
                                   epoch=200, use_gpu=False, learning_rate=2e-4, output="./output", net_G="resnet_9blocks")
    mapping = {"data_dir": root, "batch_size": 2, "load_size": 256, "crop_size": 224, "epoch": 3}
    for cfg in (namespace, mapping):
        batch = next(data_reader(cfg).make_data()[0]())
        assert batch.shape == (2, 2, 3, 224, 224) and batch.dtype == np.float32


def test_a_generator_named_imposes_its_size_multiple(data_dir):
    root = os.path.join(data_dir, "data10830")
    with pytest.raises(DataError, match="crop_size 224 is not a multiple of 256"):
        data_reader({"data_dir": root, "load_size": 256, "crop_size": 224, "net_G": "unet_256"}).make_data()
    reader = data_reader({"data_dir": root, "load_size": 256, "crop_size": 200})  # any crop up to load_size
    assert next(reader.make_data()[0]()).shape == (2, 1, 3, 200, 200)


def test_make_data_returns_three_values_and_id2name_on_request(data_dir):
    reader = data_reader({"data_dir": os.path.join(data_dir, "data10830"), "load_size": 256, "crop_size": 224})
    assert reader.id2name is None
    assert len(reader.make_data()) == 3
    assert reader.id2name == {0: "000.png", 1: "001.png"}
    train_reader, test_reader, batch_num, id2name = reader.make_data(with_id2name=True)
    assert batch_num == 3 and id2name == reader.id2name


def test_near_miss_keys_are_warned_about_once_and_others_ignored(data_dir):
    cfg = {"data_dir": os.path.join(data_dir, "data10830"), "crop_szie": 128, "output": "out", "net_D": "basic"}
    with pytest.warns(UserWarning, match="'crop_szie' is not a reader key and is ignored; did you mean 'crop_size'"):
        reader = data_reader(cfg)
    assert reader.cfg["dataset"]["train"]["crop_size"] == 256  # the default: the typo is not read
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data_reader(cfg)  # the same near miss again: no second warning; 'output' and 'net_D' never warn


def test_identical_halves_stay_identical_under_crop_and_flip(tmp_path):
    for split, count in (("train", 4), ("test", 1)):
        os.makedirs(tmp_path / split)
        for index in range(count):
            image = noise(64, 64, seed=index)
            write_ab(tmp_path / split / f"{index}.png", image, image)
    train_reader = data_reader({"data_dir": str(tmp_path), "load_size": 72, "crop_size": 48,
                                "batch_size": 4}).make_data()[0]
    for epoch in range(3):
        batch = next(train_reader())
        np.testing.assert_array_equal(batch[0], batch[1])


def test_model_zoo_list_files_and_separate_a_b_folders(tmp_path):
    images = tmp_path / "zoo" / "images"
    os.makedirs(images)
    lines = {"train": [], "test": []}
    for index in range(3):
        for side in "AB":
            write_ab(images / f"{index}_{side}.png", noise(32, 16, seed=10 * index + ord(side)),
                     noise(32, 16, seed=10 * index + ord(side) + 1))
        lines["train" if index < 2 else "test"].append(f"images/{index}_A.png\timages/{index}_B.png")
    for split, entries in lines.items():
        (tmp_path / "zoo" / f"{split}.txt").write_text("\n".join(entries) + "\n")
    reader = data_reader({"data_dir": str(tmp_path), "dataset": "zoo", "load_size": 32, "crop_size": 32,
                          "no_flip": True})
    train_reader, test_reader, batch_num = reader.make_data()
    assert batch_num == 2 and reader.id2name == {0: "2_A.png"}
    test = next(test_reader())
    from ppix2pix.data import read_image
    from data_helpers import as_model
    np.testing.assert_allclose(test[0, 0], as_model(read_image(str(images / "2_A.png"))), atol=1e-6)
    np.testing.assert_allclose(test[1, 0], as_model(read_image(str(images / "2_B.png"))), atol=1e-6)

    folders = tmp_path / "ab"
    for split, count in (("train", 2), ("test", 1)):
        for side in "AB":
            os.makedirs(folders / f"{split}{side}")
            for index in range(count):
                write_ab(folders / f"{split}{side}" / f"{index}.png", noise(32, 16, seed=index),
                         noise(32, 16, seed=index + 50 if side == "B" else index))
    reader = data_reader({"data_dir": str(folders), "load_size": 32, "crop_size": 32})
    assert reader.cfg["dataset"]["train"]["dataroot_a"] == str(folders / "trainA")
    assert next(reader.make_data()[0]()).shape == (2, 1, 3, 32, 32)


def test_bad_list_files_are_named(tmp_path):
    os.makedirs(tmp_path / "test")
    (tmp_path / "train.txt").write_text("only_one_path.png\n")
    with pytest.raises(DataError, match="train.txt line 1: expected 'A path<TAB>B path'"):
        data_reader({"data_dir": str(tmp_path), "load_size": 32, "crop_size": 32}).make_data()
    (tmp_path / "train.txt").write_text("# pairs\na.png\tb.png\n")
    with pytest.raises(DataError, match="train.txt line 2: image .*a.png' does not exist"):
        data_reader({"data_dir": str(tmp_path), "load_size": 32, "crop_size": 32}).make_data()
    with pytest.raises(ConfigError, match="data_dir is not set"):
        data_reader(CFG())
