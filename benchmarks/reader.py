"""Reader throughput: pairs/s of the paper's 286 -> 256 resize_and_crop + flip jitter at batch 1.

Prints one JSON line per setting: the PairedLoader that training uses (``build_dataloader``, Paddle tensors) with
0, 2 and 4 worker processes, then the ``data_reader`` API ([2, N, C, H, W] numpy arrays), in-process, when the
folder is a ``train`` folder with a test/ or val/ folder beside it. ``first_batch_s`` is the start-up time (worker
processes, first decode) and is excluded from ``pairs_per_s``. ``load_avg`` shows how busy the machine was.

    python benchmarks/reader.py                                  # ../shared/data/facades/train
    python benchmarks/reader.py PATH/TO/AB/FOLDER --pairs 200 --workers 0 2
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import ppix2pix  # noqa: E402,F401  (tunes the CPU runtime before Paddle loads)
from ppix2pix.config import resolve_config  # noqa: E402
from ppix2pix import data_reader  # noqa: E402
from ppix2pix.data import build_dataloader  # noqa: E402
from ppix2pix.networks import generator_size_multiple  # noqa: E402

DEFAULT_FOLDER = os.path.join(ROOT, "..", "shared", "data", "facades", "train")
JITTER = {"preprocess": "resize_and_crop", "load_size": 286, "crop_size": 256, "no_flip": False, "batch_size": 1}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", default=DEFAULT_FOLDER, help="folder of AB images (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=400, help="pairs timed per setting (default 400 = facades)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4], help="DataLoader worker counts")
    return parser


def timed(batches, pairs):
    """(seconds to the first batch, pairs/s over the following batches) reading up to ``pairs`` pairs."""
    start = time.perf_counter()
    iterator = iter(batches)
    next(iterator)
    first = time.perf_counter()
    count = 0
    for count, _ in enumerate(iterator, start=1):
        if count + 1 >= pairs:
            break
    return first - start, count / max(time.perf_counter() - first, 1e-9)


def loader_batches(folder, num_workers):
    cfg = resolve_config({"dataset": {"train": {"dataroot": folder, "num_workers": num_workers, **JITTER}}},
                         "benchmark")
    loader = build_dataloader(cfg, "train", size_multiple=generator_size_multiple(cfg["model"]["generator"]))
    loader.set_epoch(0)
    return loader


def reader_batches(folder):
    options = {key: value for key, value in JITTER.items() if key != "preprocess"}
    train_reader = data_reader({"data_dir": os.path.dirname(folder), "shuffle": True, **options}).make_data()[0]
    return train_reader()


def report(api, num_workers, pairs, first_batch_s, pairs_per_s):
    print(json.dumps({"api": api, "num_workers": num_workers, "batch_size": 1, "jitter": "286->256 crop+flip",
                      "pairs": pairs, "pairs_per_s": round(pairs_per_s, 1), "first_batch_s": round(first_batch_s, 3),
                      "cpu_count": os.cpu_count(), "load_avg": round(os.getloadavg()[0], 2)}), flush=True)


def main(argv=None):
    args = build_parser().parse_args(argv)
    folder = os.path.normpath(args.folder)
    if not os.path.isdir(folder):
        raise SystemExit(f"folder {folder} does not exist; pass a folder of AB images")
    for num_workers in args.workers:
        report("PairedLoader", num_workers, args.pairs, *timed(loader_batches(folder, num_workers), args.pairs))
    if os.path.basename(folder) == "train":
        report("data_reader", 0, args.pairs, *timed(reader_batches(folder), args.pairs))
    else:
        print(json.dumps({"api": "data_reader", "skipped": "data_reader reads DATA_DIR/train: pass a folder named "
                                                           "train"}), flush=True)


if __name__ == "__main__":
    main()
