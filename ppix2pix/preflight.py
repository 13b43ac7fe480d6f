"""The pre-flight data check of a training run: every pair of a split checked before the first iteration.

It uses the checker ``tools/prepare_data.py check`` uses (:func:`ppix2pix.data.check.check_pairs`), remembers the
files it found sound by size and mtime (``output_dir/data_check.json``), so the next run over the same data starts at
once, and applies the split's ``bad_files`` policy (stop, or drop the pairs with a warning).
"""
import logging
import os
import time

from . import distributed
from .choices import CHECK_DATA_MODES
from .data.check import CheckCache, apply_bad_files_policy, check_pairs
from .training_log import CountProgress

logger = logging.getLogger("ppix2pix")

DATA_CHECK_CACHE = "data_check.json"


class DataPreflight:
    """``preflight(dataset, split)`` checks one split: ``fast`` (headers and end markers), ``full`` (decode every
    file) or ``off``. Rank 0 checks; with several processes the others take its answer for the training split."""

    def __init__(self, mode, output_dir, rank=0, world_size=1):
        if mode not in CHECK_DATA_MODES:
            raise ValueError(f"check_data must be one of {', '.join(CHECK_DATA_MODES)}, got {mode!r}")
        self.mode, self.output_dir, self.rank, self.world_size = mode, output_dir, rank, world_size

    def __call__(self, dataset, split):
        if self.mode == "off":
            return
        problems = self._find_bad_files(dataset, split) if self.rank == 0 else None
        if self.world_size > 1 and split == "train":
            problems = distributed.broadcast_object(problems)
        apply_bad_files_policy(dataset, problems, split)

    def _find_bad_files(self, dataset, split):
        full, start = self.mode == "full", time.perf_counter()
        cache = CheckCache(os.path.join(self.output_dir, DATA_CHECK_CACHE))
        label = f"checking dataset.{split} ({self.mode})"
        problems = check_pairs(dataset.pairs, full, ab=dataset.color_space != "lab", cache=cache,
                               progress=lambda total: CountProgress(total, label))
        cache.save()
        fresh = cache.misses
        logger.info("data check (%s) of dataset.%s: %d pairs in %.2f s (%d checked, %d unchanged since the last "
                    "check): %s", self.mode, split, len(dataset.pairs), time.perf_counter() - start, fresh,
                    len(dataset.pairs) - fresh, f"{len(problems)} problem(s)" if problems else "no problems")
        return problems
