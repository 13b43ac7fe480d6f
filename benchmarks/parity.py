"""Multi-seed, equal-budget training parity: ppix2pix (``tools/train.py``, as users train) against the
official-equivalent PyTorch pix2pix (``benchmarks/reference_train.py``), scored on held-out pairs.

For every seed, each side trains the same networks (unet_128 + 70x70 PatchGAN, batch 1, Adam 2e-4 / 0.5, lambda 100,
constant lr) for the same number of iterations on the same training pairs (resize to 143, random 128 crop, flip).
Both generators are then run by the same code (ppix2pix's networks; the PyTorch weights load one to one) on the same
held-out inputs, in the paper's test mode (dropout on, batch statistics) and in eval mode (running statistics), so
the scores differ only by what training produced. Test inputs: each half of the AB image resized to 128 x 128 by
Pillow's bicubic filter, as the reference's data code does.

Tasks (data in ``../shared/data``, referenced by path):

* ``facades_photo2labels``: photo -> label map (A -> B). Scores: per-pixel accuracy, per-class accuracy and class
  IoU through :func:`ppix2pix.metrics.facades_palette` (each pixel takes its nearest palette colour).
* ``facades_labels2photo``: label map -> photo (B -> A). Scores: L1, PSNR, SSIM.
* ``edges2shoes_edges2photo``: edges -> photo (B -> A) on ``edges2shoes_mini``: the 600 files of train/ (1..600)
  train, the 100 of val/ are held out. Scores: L1, PSNR, SSIM.

Runs are cached under ``--out`` (``<task>/<side>/seed<N>.*``): delete a side's folder to retrain it. Training runs
``--jobs`` processes at once with ``--threads`` threads each. Prints one table per test mode (mean +- sd over seeds
per side, ratio ppix2pix / reference) and writes ``<task>/summary.json``::

    python benchmarks/parity.py --task facades_photo2labels --seeds 0 1 2 3 4 --iters 1500 \\
        --torch-python TORCH_VENV/bin/python
"""
import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys

import numpy as np
import yaml
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import bench_common as bench  # noqa: E402

DATA = os.path.join(ROOT, "..", "shared", "data")
SIDES = ("ppix2pix", "reference")
TEST_MODES = ("paper", "eval")
UPDATED_BN_MODE = "eval+bn"  # eval mode after re-estimating the BatchNorm statistics (--update-bn)
EVAL_SEED = 1234
LOAD_SIZE, CROP_SIZE, NUM_DOWNS = 143, 128, 7
LOSS_WINDOW = 300
DEFAULT_OUT = os.path.join(ROOT, "output", "parity")


def _numbered(folder, first, last):
    """AB files ``<n>_AB.jpg`` of a folder with first <= n <= last, sorted by n."""
    names = [name for name in os.listdir(folder) if name.endswith("_AB.jpg")
             and first <= int(name.split("_")[0]) <= last]
    return [os.path.join(folder, name) for name in sorted(names, key=lambda name: int(name.split("_")[0]))]


TASKS = {
    "facades_photo2labels": {"train": "facades/train", "test": "facades/test", "direction": "AtoB",
                             "scores": "labels"},
    "facades_labels2photo": {"train": "facades/train", "test": "facades/test", "direction": "BtoA",
                             "scores": "photo"},
    "edges2shoes_edges2photo": {"train": "edges2shoes_mini/train", "test": "edges2shoes_mini/val",
                                "direction": "BtoA", "scores": "photo", "train_range": (1, 600)},
}
SCORE_NAMES = {"labels": ("pixel_acc", "class_acc", "class_iou"), "photo": ("l1", "psnr", "ssim")}


def task_files(task, split):
    """AB image paths of a task's split; none is an error (a wrong folder or range must not score zero images)."""
    spec = TASKS[task]
    folder = os.path.join(DATA, spec[split])
    if f"{split}_range" in spec:
        files = _numbered(folder, *spec[f"{split}_range"])
    else:
        files = sorted(os.path.join(folder, name) for name in os.listdir(folder) if name.lower().endswith(".jpg"))
    if not files:
        raise SystemExit(f"error: no {split} pairs of task {task} in {folder}")
    return files


def training_folder(task, run_dir):
    """A folder holding exactly the task's training pairs (symbolic links when the task uses a subset)."""
    spec = TASKS[task]
    if "train_range" not in spec:
        return os.path.join(DATA, spec["train"])
    folder = os.path.join(run_dir, "..", "train_pairs")
    os.makedirs(folder, exist_ok=True)
    for path in task_files(task, "train"):
        link = os.path.join(folder, os.path.basename(path))
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(path), link)
    return os.path.abspath(folder)


def ppix2pix_config(task, seed, iters, dataroot, output_dir):
    """The tools/train.py config of one run: the paper's networks at 128 px, defaults everywhere else."""
    return {
        "total_iters": iters, "seed": seed, "output_dir": output_dir,
        "model": {"generator": {"name": "UnetGenerator", "num_downs": NUM_DOWNS, "use_dropout": True},
                  "discriminator": {"name": "NLayerDiscriminator", "n_layers": 3},
                  "direction": TASKS[task]["direction"]},
        "dataset": {"train": {"dataroot": dataroot, "batch_size": 1, "num_workers": 0, "load_size": LOAD_SIZE,
                              "crop_size": CROP_SIZE}},
        "validate": {"interval": 0},
    }


def train_command(side, task, seed, args, run_dir):
    """(command, environment, weights path) of one training run."""
    dataroot = training_folder(task, run_dir)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if side == "ppix2pix":
        output_dir = os.path.join(run_dir, f"seed{seed}")
        config = os.path.join(run_dir, f"seed{seed}.yaml")
        with open(config, "w", encoding="utf-8") as handle:
            yaml.safe_dump(ppix2pix_config(task, seed, args.iters, dataroot, output_dir), handle)
        return ([sys.executable, os.path.join(ROOT, "tools", "train.py"), "-c", config], env,
                os.path.join(output_dir, "netG.pdparams"))
    weights = os.path.join(run_dir, f"seed{seed}.pth")
    return ([args.torch_python, os.path.join(HERE, "reference_train.py"), "--dataroot", dataroot,
             "--direction", TASKS[task]["direction"], "--num-downs", str(NUM_DOWNS), "--load-size", str(LOAD_SIZE),
             "--crop-size", str(CROP_SIZE), "--iters", str(args.iters), "--seed", str(seed), "--threads",
             str(args.threads), "--out", weights], env, weights)


def side_folder(side, args):
    """Cache folder name of a side: ``reference``, or ``ppix2pix`` + ``--label`` (to keep before/after runs)."""
    return f"ppix2pix-{args.label}" if side == "ppix2pix" and args.label else side


def run_training(side, task, seed, args, train=True):
    """Train one run unless its weights exist (or ``train`` is False); returns the weights path."""
    run_dir = os.path.join(args.out, task, side_folder(side, args))
    os.makedirs(run_dir, exist_ok=True)
    command, env, weights = train_command(side, task, seed, args, run_dir)
    if os.path.exists(weights) or not train:
        return weights
    log = os.path.join(run_dir, f"seed{seed}.log")
    print(f"training {side} seed {seed} (log: {log})", file=sys.stderr, flush=True)
    with open(log, "w", encoding="utf-8") as handle:
        done = subprocess.run(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode:
        raise RuntimeError(f"{side} seed {seed} failed (exit {done.returncode}); see {log}")
    return weights


def test_pairs(task, paths=None):
    """[(input, target)] model-range C x H x W float32 arrays of the held-out pairs (Pillow bicubic to 128); ``paths``
    picks some of the task's held-out AB images (default: all)."""
    pairs = []
    for path in task_files(task, "test") if paths is None else paths:
        image = Image.open(path).convert("RGB")
        half = image.size[0] // 2
        sides = [np.asarray(image.crop(box).resize((CROP_SIZE, CROP_SIZE), Image.BICUBIC), np.float32)
                 for box in ((0, 0, half, image.size[1]), (half, 0, image.size[0], image.size[1]))]
        a, b = (side.transpose(2, 0, 1) / 127.5 - 1.0 for side in sides)
        pairs.append((a, b) if TASKS[task]["direction"] == "AtoB" else (b, a))
    return pairs


def evaluate(weights, task, pairs, update_bn=0, out=DEFAULT_OUT):
    """{test mode: {score: value}} of one trained generator on the held-out pairs; with ``update_bn`` batches, also
    ``eval+bn``: eval mode after :func:`ppix2pix.networks.running_statistics.reestimate_running_statistics` over
    that many training batches (seed 0, the training jitter; the run cache ``out`` holds the task's training pairs),
    as ``tools/update_bn.py`` does."""
    import paddle
    from ppix2pix.weights import load_generator
    from ppix2pix.config import load_config
    from ppix2pix.data.image_io import from_model, to_uint8
    from ppix2pix.metrics import MetricAverager, SegmentationScores, facades_palette
    from ppix2pix.networks.running_statistics import reestimate_running_statistics
    from ppix2pix.translator import NetworkRunner

    cfg = load_config(overrides=[f"model.generator.num_downs={NUM_DOWNS}",
                                 f"model.direction={TASKS[task]['direction']}"])
    net, _ = load_generator(weights, cfg)
    results = {}
    for mode in TEST_MODES + ((UPDATED_BN_MODE,) if update_bn else ()):
        paddle.seed(EVAL_SEED)
        if mode == UPDATED_BN_MODE:
            reestimate_running_statistics(net, training_input_batches(task, cfg, update_bn, out))
        runner = NetworkRunner(net, "eval" if mode == UPDATED_BN_MODE else mode)
        labels = SegmentationScores(facades_palette()) if TASKS[task]["scores"] == "labels" else None
        photos = MetricAverager()
        for source, target in pairs:
            output = runner(source[None])
            if labels is not None:
                labels.add(to_uint8(from_model(output[0])), to_uint8(from_model(target)))
            else:
                photos.add_batch(output, target[None])
        scores = labels.result() if labels is not None else photos.result()
        results[mode] = {name: scores[name] for name in SCORE_NAMES[TASKS[task]["scores"]]}
    return results


def training_input_batches(task, cfg, count, out):
    """``count`` seeded, jittered batches of 1 of the task's training inputs, through ppix2pix's training reader."""
    from ppix2pix.config import resolve_with_overrides
    from ppix2pix.data.loader import build_dataset, seeded_input_batches
    from ppix2pix.direction import input_side

    folder = training_folder(task, os.path.join(out, task, "reference"))
    cfg = resolve_with_overrides(cfg, [f"dataset.train.dataroot={folder}", f"dataset.train.load_size={LOAD_SIZE}",
                                       f"dataset.train.crop_size={CROP_SIZE}", "dataset.train.batch_size=1"],
                                 "parity config")
    dataset = build_dataset(cfg, "train", size_multiple=1)
    return seeded_input_batches(dataset, input_side(cfg["model"]["direction"]), 1, count, 0)


LOSS_NAMES = ("G_GAN", "G_L1", "D_real", "D_fake")
LOSS_LINE = re.compile(r"iter (\d+)/\d+ .*?G_GAN ([\d.]+) G_L1 ([\d.]+) .*?D_real ([\d.]+) D_fake ([\d.]+)")


def training_losses(side, weights, window):
    """Mean of each loss term over the last ``window`` iterations of a run (ppix2pix: its train.log lines, which
    average the iterations since the previous line; reference: its per-iteration JSON)."""
    if side == "reference":
        with open(weights + ".json", encoding="utf-8") as handle:
            records = json.load(handle)[-window:]
        return {name: statistics.mean(record[name] for record in records) for name in LOSS_NAMES}
    with open(os.path.join(os.path.dirname(weights), "train.log"), encoding="utf-8") as handle:
        lines = [match.groups() for match in map(LOSS_LINE.search, handle) if match]
    last = int(lines[-1][0])
    kept = [values for values in lines if int(values[0]) > last - window]
    return {name: statistics.mean(float(values[1 + index]) for values in kept) for index, name in enumerate(LOSS_NAMES)}


def summarize(task, scores):
    """Per test mode and score: mean and sd over seeds per side, the ratio of means, and the spreads."""
    summary = {}
    for mode in [mode for mode in TEST_MODES + (UPDATED_BN_MODE,)
                 if any(mode in result for runs in scores.values() for result in runs.values())]:
        rows = {}
        for name in SCORE_NAMES[TASKS[task]["scores"]]:
            row = {}
            for side in SIDES:
                values = [result[mode][name] for result in scores.get(side, {}).values() if mode in result]
                if values:
                    row[side] = {"mean": statistics.mean(values),
                                 "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                                 "values": values}
            if len(row) == 2:
                row["ratio"] = row["ppix2pix"]["mean"] / row["reference"]["mean"]
            rows[name] = row
        summary[mode] = rows
    return summary


def print_summary(task, summary, seeds):
    for mode, rows in summary.items():
        print(f"\n{task}, test mode {mode}, seeds {' '.join(map(str, seeds))}")
        print(f"{'score':<10} {'ppix2pix mean +- sd':>22} {'reference mean +- sd':>22} {'ratio':>7}")
        for name, row in rows.items():
            cells = [f"{row[side]['mean']:.4f} +- {row[side]['sd']:.4f}" if side in row else "-" for side in SIDES]
            ratio = f"{row['ratio']:.3f}" if "ratio" in row else "-"
            print(f"{name:<10} {cells[0]:>22} {cells[1]:>22} {ratio:>7}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="facades_photo2labels")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--sides", nargs="+", choices=SIDES, default=list(SIDES))
    parser.add_argument("--torch-python", help=bench.TORCH_PYTHON_HELP)
    parser.add_argument("--out", default=DEFAULT_OUT, help="run cache folder")
    parser.add_argument("--label", help="keep this ppix2pix version's runs apart (folder ppix2pix-LABEL)")
    parser.add_argument("--evaluate-only", action="store_true", help="score the finished runs, train nothing")
    parser.add_argument("--update-bn", type=int, default=0, metavar="N",
                        help="also score eval mode after re-estimating the BatchNorm statistics over N training "
                             "batches (tools/update_bn.py), both sides alike")
    parser.add_argument("--jobs", type=int, default=2, help="training runs at once")
    parser.add_argument("--threads", type=int, default=1, help="threads per training run")
    args = parser.parse_args(argv)
    if "reference" in args.sides and not args.evaluate_only:
        args.torch_python = bench.find_torch_python(args.torch_python)
        if args.torch_python is None:
            parser.error(f"the reference side needs torch: {bench.NO_TORCH_PYTHON}")
    runs = [(side, seed) for seed in args.seeds for side in args.sides]
    if args.evaluate_only:
        weights = {run: path for run in runs
                   if os.path.exists(path := run_training(run[0], args.task, run[1], args, train=False))}
    else:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            weights = dict(zip(runs, pool.map(lambda run: run_training(run[0], args.task, run[1], args), runs)))
    pairs = test_pairs(args.task)
    scores = {}
    for (side, seed), path in weights.items():
        scores.setdefault(side, {})[seed] = evaluate(path, args.task, pairs, args.update_bn, args.out)
        print(f"{side} seed {seed}: {json.dumps(scores[side][seed])}", file=sys.stderr, flush=True)
    summary = summarize(args.task, scores)
    print_summary(args.task, summary, args.seeds)
    losses = {side: [training_losses(side, path, LOSS_WINDOW) for (run_side, _), path in weights.items()
                     if run_side == side] for side in args.sides}
    print(f"\ntraining losses, mean of the last {LOSS_WINDOW} iterations, mean +- sd over seeds")
    for side, runs in losses.items():
        if runs:
            print(f"{side:<10} " + "  ".join(
                f"{name} {statistics.mean(r[name] for r in runs):.3f} +- "
                f"{statistics.stdev(r[name] for r in runs) if len(runs) > 1 else 0.0:.3f}" for name in LOSS_NAMES))
    name = f"summary-{args.label}.json" if args.label else "summary.json"
    with open(os.path.join(args.out, args.task, name), "w", encoding="utf-8") as handle:
        json.dump({"task": args.task, "iters": args.iters, "seeds": args.seeds, "scores": scores,
                   "summary": summary, "training_losses": losses}, handle, indent=1)


if __name__ == "__main__":
    main()
