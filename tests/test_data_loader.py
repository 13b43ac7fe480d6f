"""EpochBatchSampler order and rank partition; PairedLoader with and without worker processes."""
import numpy as np
import pytest

from data_helpers import data_cfg, noise, write_ab
from ppix2pix.data import EpochBatchSampler, ImageError, build_dataloader


def flat(sampler):
    return [index for batch in sampler for index in batch]


def test_shuffle_order_is_a_function_of_seed_and_epoch():
    def order(seed, epoch):
        sampler = EpochBatchSampler(20, 3, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        return flat(sampler)

    assert sorted(order(1, 0)) == list(range(20))
    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    assert flat(EpochBatchSampler(20, 3, shuffle=False, seed=1)) == list(range(20))


@pytest.mark.parametrize("size, world_size", [(12, 3), (10, 3), (7, 2)])
def test_ranks_partition_every_index(size, world_size):
    shares = []
    for rank in range(world_size):
        sampler = EpochBatchSampler(size, 2, shuffle=True, seed=5, rank=rank, world_size=world_size)
        sampler.set_epoch(3)
        shares.append(flat(sampler))
    per_rank = -(-size // world_size)
    assert all(len(share) == per_rank for share in shares)
    everything = sorted(index for share in shares for index in share)
    assert set(everything) == set(range(size))
    assert len(everything) - size == per_rank * world_size - size  # only the padding repeats
    if size % world_size == 0:
        assert everything == list(range(size))


def test_mid_epoch_start_skips_the_first_batches():
    sampler = EpochBatchSampler(11, 2, shuffle=True, seed=0)
    sampler.set_epoch(4)
    full = list(sampler)
    assert len(full) == len(sampler) == 6 and len(full[-1]) == 1
    sampler.set_epoch(4, start_batch=2)
    assert list(sampler) == full[2:]


def loader_batches(folder, num_workers, epoch=1, start_batch=0):
    cfg = data_cfg(folder, load_size=72, crop_size=64, batch_size=3, num_workers=num_workers, seed=2)
    loader = build_dataloader(cfg, "train", size_multiple=64)
    loader.set_epoch(epoch, start_batch)
    return [(batch["A"].numpy(), batch["B"].numpy(), list(batch["A_path"])) for batch in loader]


@pytest.fixture(scope="module")
def noise_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noise_ab")
    for index in range(8):
        write_ab(folder / f"{index}.png", noise(64, 64, seed=2 * index), noise(64, 64, seed=2 * index + 1))
    return str(folder)


def test_worker_processes_give_the_same_batches(noise_folder):
    in_process = loader_batches(noise_folder, 0)
    with_workers = loader_batches(noise_folder, 2)
    assert len(in_process) == len(with_workers) == 3
    for (a0, b0, paths0), (a2, b2, paths2) in zip(in_process, with_workers):
        assert paths0 == paths2
        np.testing.assert_array_equal(a0, a2)
        np.testing.assert_array_equal(b0, b2)
    assert loader_batches(noise_folder, 0, start_batch=1)[0][2] == in_process[1][2]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # Paddle's reader thread
def test_an_error_in_a_worker_names_the_file(tmp_path):
    for index in range(6):
        write_ab(tmp_path / f"{index}.png", noise(64, 64, seed=index), noise(64, 64, seed=index))
    (tmp_path / "3.png").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(ImageError, match="corrupt") as error:
        loader_batches(str(tmp_path), 2)
    assert str(tmp_path / "3.png") in str(error.value)
