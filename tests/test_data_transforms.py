"""Paired preprocessing: one draw per pair, applied to A and B alike; no randomness at test time; output sizes."""
import numpy as np
import pytest

from data_helpers import make_dataset, noise, write_ab
from ppix2pix.data import DataError

# 80 x 72 halves; a U-Net with 5 downs (multiple 32) so every mode crops or rounds.
MODES = {
    "resize_and_crop": {"load_size": 80, "crop_size": 64},
    "crop": {"crop_size": 64},
    "scale_width": {"load_size": 64, "crop_size": 64},
    "scale_width_and_crop": {"load_size": 72, "crop_size": 64},
    "none": {"crop_size": 64},
}


@pytest.fixture
def twin_folder(tmp_path):
    """AB images whose two halves are the same noise image."""
    for index in range(6):
        image = noise(80, 72, seed=index)
        write_ab(tmp_path / f"{index}.png", image, image)
    return str(tmp_path)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_identical_halves_stay_identical_under_every_mode(twin_folder, mode):
    dataset = make_dataset(dataroot=twin_folder, generator={"num_downs": 5}, preprocess=mode, **MODES[mode])
    for epoch in range(2):
        dataset.set_epoch(epoch)
        for index in range(len(dataset)):
            item = dataset[index]
            assert item["A"].shape == item["B"].shape
            np.testing.assert_array_equal(item["A"], item["B"])


def test_flip_is_drawn_per_pair_and_both_outcomes_occur(twin_folder):
    dataset = make_dataset(dataroot=twin_folder, generator={"num_downs": 3}, preprocess="none")
    flipped = []
    for index in range(len(dataset)):
        original = noise(80, 72, seed=index).astype(np.float32).transpose(2, 0, 1) / 255 * 2 - 1
        item = dataset[index]
        if np.allclose(item["A"], original, atol=1e-6):
            flipped.append(False)
        else:
            np.testing.assert_allclose(item["A"], original[:, :, ::-1], atol=1e-6)
            flipped.append(True)
        np.testing.assert_array_equal(item["A"], item["B"])
    assert True in flipped and False in flipped


@pytest.mark.parametrize("mode", sorted(MODES))
def test_test_time_is_deterministic_and_unflipped(twin_folder, mode):
    dataset = make_dataset(train=False, dataroot=twin_folder, generator={"num_downs": 5}, preprocess=mode,
                           **MODES[mode])
    first = [dataset[index]["A"] for index in range(len(dataset))]
    dataset.set_epoch(7)
    second = [dataset[index]["A"] for index in range(len(dataset))]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not dataset.transform.flip


def test_test_time_none_mode_returns_the_image_itself(twin_folder):
    dataset = make_dataset(train=False, dataroot=twin_folder, generator={"num_downs": 3}, preprocess="none")
    for index in range(len(dataset)):
        expected = noise(80, 72, seed=index).astype(np.float32).transpose(2, 0, 1) / 255 * 2 - 1
        np.testing.assert_allclose(dataset[index]["A"], expected, atol=1e-6)


@pytest.mark.parametrize("mode, options, num_downs, size, train_shape, test_shape", [
    ("resize_and_crop", {"load_size": 286, "crop_size": 256}, 8, (64, 64), (256, 256), (256, 256)),
    ("crop", {"crop_size": 32}, 5, (48, 40), (32, 32), (32, 32)),
    ("scale_width", {"load_size": 64, "crop_size": 32}, 5, (40, 80), (32, 64), (32, 64)),
    ("scale_width_and_crop", {"load_size": 48, "crop_size": 32}, 5, (40, 80), (32, 32), (32, 32)),
    ("none", {"crop_size": 32}, 5, (70, 90), (64, 96), (64, 96)),
])
def test_output_shape_per_mode(tmp_path, mode, options, num_downs, size, train_shape, test_shape):
    write_ab(tmp_path / "x.png", noise(*size), noise(*size, seed=1))
    for train, shape in ((True, train_shape), (False, test_shape)):
        item = make_dataset(train=train, dataroot=str(tmp_path), generator={"num_downs": num_downs},
                            preprocess=mode, **options)[0]
        assert item["A"].shape == item["B"].shape == (3, *shape)


def test_geometry_is_a_function_of_seed_epoch_and_index(twin_folder):
    def items(seed, epoch):
        dataset = make_dataset(dataroot=twin_folder, generator={"num_downs": 5}, seed=seed, **MODES["resize_and_crop"])
        dataset.set_epoch(epoch)
        return [dataset[index]["A"] for index in range(len(dataset))]

    reference = items(seed=3, epoch=1)
    for a, b in zip(reference, items(seed=3, epoch=1)):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(reference, items(seed=3, epoch=2)))
    assert any(not np.array_equal(a, b) for a, b in zip(reference, items(seed=4, epoch=1)))


def test_load_size_below_crop_size_is_a_config_error(twin_folder):
    with pytest.raises(DataError, match="load_size 60 is smaller than crop_size 64"):
        make_dataset(dataroot=twin_folder, load_size=60, crop_size=64)
