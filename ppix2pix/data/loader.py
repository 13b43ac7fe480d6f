"""Batches for training and validation: deterministic per-epoch shuffling, rank partitioning, mid-epoch start."""
import itertools
import threading

import numpy as np
import paddle
from paddle.io.dataloader.collate import default_collate_fn

from ..errors import DataError, ImageError
from .dataset import PairedDataset


class EpochBatchSampler(paddle.io.BatchSampler):
    """Batches of indices whose order depends only on (seed, epoch); each rank takes its share.

    Like ``paddle.io.DistributedBatchSampler`` (the epoch order is padded to a multiple of the world size and
    split by rank), but seeded by the run's seed and able to start at batch ``k`` of an epoch, which an exactly
    resumed run needs.
    """

    def __init__(self, size, batch_size, shuffle, seed=0, rank=0, world_size=1, drop_last=False):
        self.size, self.batch_size, self.shuffle, self.seed = size, batch_size, shuffle, int(seed or 0)
        self.rank, self.world_size, self.drop_last = rank, world_size, drop_last
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch, start_batch=0):
        """Use the order of ``epoch`` and skip its first ``start_batch`` batches."""
        self.epoch, self.start_batch = int(epoch), int(start_batch)

    def _rank_indices(self):
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        padded = -(-self.size // self.world_size) * self.world_size
        order = np.concatenate([order, order[:padded - self.size]])
        return order[self.rank::self.world_size]

    def _batch_count(self):
        per_rank = -(-self.size // self.world_size)
        return per_rank // self.batch_size if self.drop_last else -(-per_rank // self.batch_size)

    def __iter__(self):
        indices = self._rank_indices()
        for batch in range(self.start_batch, self._batch_count()):
            yield indices[batch * self.batch_size:(batch + 1) * self.batch_size].tolist()

    def __len__(self):
        return self._batch_count()


WORKER_TIMEOUT_S = 300  # a worker that delivers no batch for this long is an error, not a silent hang
WORKER_JOIN_S = 5  # how long to wait for workers to exit after a failure
PREFETCH_FACTOR = 2


class PairedLoader:
    """A DataLoader over a :class:`PairedDataset` whose epoch (shuffle order and augmentation) is set explicitly.

    With ``num_workers = 0`` the batches are read here, in the calling thread (Paddle's single-process loader reads
    them in a background thread, which dies on a data error and leaves the training loop waiting forever). With
    ``num_workers > 0`` an exception inside a worker reaches the main process only as Paddle's generic "Blocking
    queue is killed" error; the loader then stops the workers and re-reads the batches that were in flight here, so
    the real error (an :class:`ImageError` naming the file) is what the caller sees.
    """

    def __init__(self, dataset, sampler, num_workers):
        self.dataset, self.sampler, self.num_workers = dataset, sampler, num_workers
        self.loader = None
        if num_workers:
            _quiet_reader_thread()
            self.loader = paddle.io.DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers,
                                               prefetch_factor=PREFETCH_FACTOR, timeout=WORKER_TIMEOUT_S)

    def set_epoch(self, epoch, start_batch=0):
        """Prepare epoch ``epoch`` (0-based), starting at batch ``start_batch``."""
        self.dataset.set_epoch(epoch)
        self.sampler.set_epoch(epoch, start_batch)

    def __iter__(self):
        return self._iter_workers() if self.num_workers else self._iter_here()

    def _iter_here(self):
        for indices in self.sampler:
            batch = default_collate_fn([self.dataset[index] for index in indices])
            yield {key: paddle.to_tensor(value) if isinstance(value, np.ndarray) else value
                   for key, value in batch.items()}

    def _iter_workers(self):
        delivered, batches = 0, iter(self.loader)
        try:
            for batch in batches:
                yield batch
                delivered += 1
        except Exception:
            _shut_down(batches)
            self._reraise_data_error(delivered)
            raise

    def _reraise_data_error(self, delivered):
        """Read the batches that were in flight when a worker failed; a data error among them is raised here."""
        in_flight = itertools.islice(iter(self.sampler), delivered, delivered + self.num_workers * PREFETCH_FACTOR + 1)
        for indices in in_flight:
            for index in indices:
                self.dataset[index]

    def __len__(self):
        """Batches in a full epoch (for this rank)."""
        return self.sampler._batch_count()


def _shut_down(batches):
    """Stop the workers of a failed Paddle iterator now, waiting a bounded time.

    Left to itself, the failed iterator stays referenced by the reader thread's exception and is shut down later by
    its ``__del__``, which joins the workers without a timeout and can hang the process at exit.
    """
    shutdown = getattr(batches, "_try_shutdown_all", None)  # Paddle's own shutdown of a multi-process iterator
    if shutdown is not None:
        shutdown(WORKER_JOIN_S)


def _quiet_reader_thread():
    """Keep the traceback of a data error in Paddle's reader thread off the console: the loader raises the same
    error in the calling thread (see :meth:`PairedLoader._reraise_data_error`). Other exceptions print as before."""
    previous = threading.excepthook
    if getattr(previous, "quiet_data_errors", False):
        return

    def hook(args):
        if not (isinstance(args.exc_type, type) and issubclass(args.exc_type, (DataError, ImageError))):
            previous(args)

    hook.quiet_data_errors = True
    threading.excepthook = hook


def build_dataset(cfg, split, *, size_multiple):
    """The PairedDataset of ``cfg['dataset'][split]`` ('train' gets random augmentation), its sizes kept to
    multiples of ``size_multiple`` (see :class:`PairedDataset`)."""
    return PairedDataset(cfg["dataset"][split], cfg["model"], train=split == "train", seed=cfg["seed"],
                         size_multiple=size_multiple)


def build_dataloader(cfg, split, rank=0, world_size=1, *, size_multiple, check=None):
    """A :class:`PairedLoader` for a split; batches are dicts {A, B (N x C x H x W tensors), A_path, B_path}.

    ``check(dataset, split)`` (optional) runs before the batches are planned, so the pairs it drops are not counted.
    """
    section = cfg["dataset"][split]
    dataset = build_dataset(cfg, split, size_multiple=size_multiple)
    if check is not None:
        check(dataset, split)
    shuffle = section["shuffle"] if section["shuffle"] is not None else split == "train"
    sampler = EpochBatchSampler(len(dataset), section["batch_size"], shuffle, cfg["seed"], rank, world_size)
    return PairedLoader(dataset, sampler, section["num_workers"])


def seeded_input_batches(dataset, side, batch_size, count, seed):
    """``count`` batches (N x C x H x W tensors) of the ``side`` ('A' or 'B') images of a training dataset, in a
    seeded order with the training jitter; past the end the order wraps around with the next epoch's jitter. For
    re-estimating BatchNorm statistics (:mod:`ppix2pix.networks.running_statistics`)."""
    order = np.random.default_rng(seed).permutation(len(dataset))
    for number in range(count):
        first = number * batch_size
        dataset.set_epoch(seed + first // len(dataset))
        indices = [int(order[(first + k) % len(order)]) for k in range(batch_size)]
        yield paddle.to_tensor(np.stack([dataset[index][side] for index in indices]))
