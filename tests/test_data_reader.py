"""data_reader(cfg).make_data(): [2, N, C, H, W] batches, direction, folders, errors, and real facades pairs.

The brief's own snippet (plain CFG object, crop 224, three-value unpacking) is tests/test_reader_brief.py's."""
import argparse
import os

import numpy as np
import pytest

from data_helpers import ab_tree, as_model, noise
from ppix2pix.config import ConfigError
from ppix2pix.data import DataError, read_image
from ppix2pix.legacy_reader import data_reader

SMALL = {"load_size": 72, "crop_size": 64, "net_G": "resnet_6blocks"}  # ResNet: sizes multiple of 4


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """data_dir/tiny/{train (5 pairs), test (3 pairs)} of noise AB images."""
    root = tmp_path_factory.mktemp("reader")
    ab_tree(root / "tiny", {"train": 5, "test": 3})
    return str(root)


def make(data_dir, **cfg):
    return data_reader({"data_dir": data_dir, "dataset": "tiny", **SMALL, **cfg}).make_data(with_id2name=True)


def test_batches_are_float32_pairs_in_range(data_dir):
    train_reader, test_reader, batch_num, id2name = make(data_dir, batch_size=2, shuffle=True)
    batches = list(train_reader())
    assert batch_num == len(batches) == 3
    assert [b.shape for b in batches] == [(2, 2, 3, 64, 64)] * 2 + [(2, 1, 3, 64, 64)]
    for batch in batches:
        assert batch.dtype == np.float32 and -1 <= batch.min() and batch.max() <= 1
        assert not np.array_equal(batch[0], batch[1])
    assert id2name == {0: "000.png", 1: "001.png", 2: "002.png"}
    test_batches = list(test_reader())
    assert [b.shape for b in test_batches] == [(2, 1, 3, 64, 64)] * 3


def test_test_reader_is_the_unaugmented_test_set_in_name_order(data_dir):
    _, test_reader, _, id2name = make(data_dir, load_size=64, preprocess="none")
    first, second = list(test_reader()), list(test_reader())
    for index, (batch, again) in enumerate(zip(first, second)):
        np.testing.assert_array_equal(batch, again)
        expected_a = noise(64, 64, seed=1000 + 2 * index)  # ab_tree's seeds for the 'test' split
        np.testing.assert_allclose(batch[0, 0], as_model(expected_a), atol=1e-6)
        assert id2name[index] == f"{index:03d}.png"


def test_direction_swaps_input_and_target(data_dir):
    a_to_b = next(make(data_dir, direction="AtoB", seed=4)[0]())
    b_to_a = next(make(data_dir, direction="BtoA", seed=4)[0]())
    np.testing.assert_array_equal(a_to_b[0], b_to_a[1])
    np.testing.assert_array_equal(a_to_b[1], b_to_a[0])


def test_each_call_reads_the_next_epoch_and_epochs_can_be_replayed(data_dir):
    train_reader = make(data_dir, batch_size=5, seed=1)[0]
    epoch0, epoch1 = next(train_reader()), next(train_reader())
    assert not np.array_equal(epoch0, epoch1)
    np.testing.assert_array_equal(next(train_reader(epoch=0)), epoch0)
    np.testing.assert_array_equal(next(train_reader(epoch=1)), epoch1)


def test_grayscale_pairs_have_one_channel(data_dir):
    batch = next(make(data_dir, input_nc=1, output_nc=1)[0]())
    assert batch.shape == (2, 1, 1, 64, 64)


def test_namespace_cfg_with_unset_values_takes_the_config_defaults(data_dir):
    args = argparse.Namespace(data_dir=data_dir, dataset="tiny", batch_size=None, load_size=72, crop_size=64,
                              direction=None, shuffle=None, net_G="resnet_6blocks", num_workers=None)
    reader = data_reader(args)
    assert reader.cfg["dataset"]["train"]["batch_size"] == 1 and reader.cfg["model"]["direction"] == "AtoB"
    assert reader.cfg["dataset"]["train"]["interpolation"] == "bicubic" and reader.cfg["seed"] == 0
    assert next(reader.make_data()[0]()).shape == (2, 1, 3, 64, 64)
    assert reader.id2name == {0: "000.png", 1: "001.png", 2: "002.png"}


def test_worker_processes_give_the_same_batches(data_dir):
    in_process = list(make(data_dir, batch_size=2, seed=3)[0]())
    with_workers = list(make(data_dir, batch_size=2, seed=3, num_workers=2)[0]())
    assert len(in_process) == len(with_workers)
    for batch, other in zip(in_process, with_workers):
        np.testing.assert_array_equal(batch, other)


def test_val_folder_serves_as_test_folder_and_dataset_is_optional(tmp_path):
    ab_tree(tmp_path, {"train": 2, "val": 1})
    _, test_reader, batch_num = data_reader({"data_dir": str(tmp_path), **SMALL}).make_data()
    assert batch_num == 2 and len(list(test_reader())) == 1


def test_missing_folders_are_named(tmp_path):
    with pytest.raises(DataError, match="dataset folder .*nope.* does not exist"):
        data_reader({"data_dir": str(tmp_path), "dataset": "nope"})
    with pytest.raises(DataError, match=f"no training data in '{tmp_path}'; expected a list file train.txt"):
        data_reader({"data_dir": str(tmp_path)})
    os.makedirs(tmp_path / "train")
    with pytest.raises(DataError, match=f"no test data in '{tmp_path}'; .*folders testA/ and testB/.*\\(or val\\)"):
        data_reader({"data_dir": str(tmp_path)})


def test_bad_cfg_values_are_named(data_dir):
    with pytest.raises(ConfigError, match="data_dir is not set"):
        data_reader({"dataset": "tiny"})
    with pytest.raises(ConfigError, match="crop_size must be int"):
        data_reader({"data_dir": data_dir, "dataset": "tiny", "crop_size": "big"})
    with pytest.raises(ConfigError, match="input_nc 1 and output_nc 3 differ.*cannot be stacked"):
        data_reader({"data_dir": data_dir, "dataset": "tiny", "input_nc": 1})


@pytest.mark.slow
def test_real_facades_pairs(shared_data):
    facades = shared_data("facades")
    train_reader, test_reader, batch_num, id2name = data_reader(
        {"data_dir": os.path.dirname(facades), "dataset": "facades", "batch_size": 4, "test_batch_size": 4,
         "direction": "BtoA", "max_dataset_size": 8}).make_data(with_id2name=True)
    assert batch_num == 2 and id2name[0] == sorted(os.listdir(os.path.join(facades, "test")))[0]
    for reader in (train_reader, test_reader):
        batch = next(reader())
        assert batch.shape == (2, 4, 3, 256, 256) and batch.dtype == np.float32
        assert -1 <= batch.min() < -0.5 and 0.5 < batch.max() <= 1
        labels, photos = batch  # BtoA: index 0 = labels (B, right half), 1 = photo (A, left half)
        assert all(np.abs(label - photo).mean() > 0.1 for label, photo in zip(labels, photos))
    ab = read_image(os.path.join(facades, "test", id2name[0]))  # 256 x 512: the test reader keeps it as it is
    np.testing.assert_allclose(batch[1, 0], as_model(ab[:, :256]), atol=1e-6)
    np.testing.assert_allclose(batch[0, 0], as_model(ab[:, 256:]), atol=1e-6)
