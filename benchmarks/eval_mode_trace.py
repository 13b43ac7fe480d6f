"""Eval-mode quality step by step at the end of training, ppix2pix against the reference (``benchmarks/parity.py``).

A model's eval-mode output depends on BatchNorm running averages that remember the last ~20 training steps. With
batch 1, the U-Net's inner levels see 2 x 2 maps, so each step's batch variance rests on 4 values and the averages
swing. One end-of-training score per seed samples that swing once; this script records it at every step of a window
so both sides' swings can be compared:

* ppix2pix: resumes a finished ``parity.py`` run (``<out>/<task>/ppix2pix/seed<N>``, its ``iter_<iters>``
  checkpoint) through :class:`ppix2pix.trainer.Trainer` for ``--steps`` more iterations (an exact continuation);
* reference: trains ``benchmarks/reference_train.py`` for ``iters + steps`` iterations with ``--trace-from iters+1``.

After every traced step, the generator's eval-mode L1 on the first ``--images`` held-out pairs is recorded. Traces are
cached in ``<out>/<task>/trace/<side>_seed<N>.json``; every run prints the table of the cached ones::

    python benchmarks/eval_mode_trace.py --task edges2shoes_edges2photo --side reference --seeds 0 1 \\
        --torch-python TORCH_VENV/bin/python
    python benchmarks/eval_mode_trace.py --task edges2shoes_edges2photo --side ppix2pix --seeds 0 1 2 3 4
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

import numpy as np

import parity
from parity import HERE, SIDES, TASKS
import bench_common as bench


def trace_folder(args):
    return os.path.join(args.out, args.task, "trace")


def held_out_paths(args):
    """The first ``--images`` held-out AB images, linked into one folder for the reference (which reads a folder)."""
    paths = parity.task_files(args.task, "test")[:args.images]
    folder = os.path.join(trace_folder(args), f"held_out_{args.images}")
    os.makedirs(folder, exist_ok=True)
    for index, path in enumerate(paths):
        link = os.path.join(folder, f"{index:04d}_{os.path.basename(path)}")
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(path), link)
    return paths, folder


def trace_ppix2pix(seed, args, paths):
    """Eval-mode L1 after each of ``--steps`` more iterations of a finished ppix2pix parity run."""
    import paddle
    from ppix2pix.config import load_config
    from ppix2pix.networks.inference_mode import inference_mode
    from ppix2pix.trainer import Trainer

    run = os.path.join(args.out, args.task, "ppix2pix", f"seed{seed}")
    scratch = os.path.join(trace_folder(args), f"ppix2pix_seed{seed}_run")
    shutil.rmtree(scratch, ignore_errors=True)
    cfg = load_config(os.path.join(run, "config.yaml"),
                      overrides=[f"total_iters={args.iters + args.steps}", f"output_dir={scratch}"])
    trainer = Trainer(cfg, resume=os.path.join(run, "checkpoints", f"iter_{args.iters}.pdparams"))
    pairs = parity.test_pairs(args.task, paths)
    inputs = paddle.to_tensor(np.stack([pair[0] for pair in pairs]))
    targets = np.stack([pair[1] for pair in pairs])
    net, train_step, trace = trainer.model.netG, trainer.model.train_step, []

    def traced_step(real_input, real_target):
        losses = train_step(real_input, real_target)
        with paddle.no_grad(), inference_mode(net, "eval"):
            trace.append(float(np.abs(net(inputs).numpy() - targets).mean()))
        return losses

    trainer.model.train_step = traced_step
    trainer.train()
    shutil.rmtree(scratch, ignore_errors=True)
    return trace


def trace_reference(seed, args, folder):
    """Eval-mode L1 after each of the iterations ``iters + 1 .. iters + steps`` of a reference run."""
    weights = os.path.join(trace_folder(args), f"reference_seed{seed}.pth")
    command = [args.torch_python, os.path.join(HERE, "reference_train.py"), "--dataroot",
               parity.training_folder(args.task, os.path.join(args.out, args.task, "reference")), "--direction",
               TASKS[args.task]["direction"], "--num-downs", str(parity.NUM_DOWNS), "--load-size",
               str(parity.LOAD_SIZE), "--crop-size", str(parity.CROP_SIZE), "--iters", str(args.iters + args.steps),
               "--seed", str(seed), "--threads", str(args.threads), "--out", weights, "--trace-eval", folder,
               "--trace-images", str(args.images), "--trace-from", str(args.iters + 1)]
    subprocess.run(command, check=True, env=dict(os.environ, OMP_NUM_THREADS=str(args.threads)))
    with open(weights + ".json", encoding="utf-8") as handle:
        return [record["eval_l1"] for record in json.load(handle) if "eval_l1" in record]


def report(args):
    """Per cached trace: mean, median, 90th percentile and worst eval-mode L1 over the window, and the share of steps
    more than 25 % above the trace's median (a swing)."""
    print(f"eval-mode L1 on {args.images} held-out pairs after each of iterations {args.iters + 1}..."
          f"{args.iters + args.steps} ({args.task})")
    print(f"{'side':<10} {'seed':>4} {'mean':>7} {'median':>7} {'p90':>7} {'worst':>7} {'swing steps':>12}")
    for side in SIDES:
        for name in sorted(os.listdir(trace_folder(args))):
            if name.startswith(f"{side}_seed") and name.endswith(".json") and not name.endswith(".pth.json"):
                with open(os.path.join(trace_folder(args), name), encoding="utf-8") as handle:
                    trace = json.load(handle)
                median = statistics.median(trace)
                swings = sum(value > 1.25 * median for value in trace) / len(trace)
                print(f"{side:<10} {name[len(side) + 5:-5]:>4} {statistics.mean(trace):7.3f} {median:7.3f} "
                      f"{np.percentile(trace, 90):7.3f} {max(trace):7.3f} {swings:11.0%}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="edges2shoes_edges2photo")
    parser.add_argument("--side", choices=SIDES, help="trace this side's missing seeds (none: only report)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--iters", type=int, default=1500, help="the parity runs' length; tracing starts after it")
    parser.add_argument("--steps", type=int, default=100, help="traced iterations")
    parser.add_argument("--images", type=int, default=25, help="held-out pairs scored after each step")
    parser.add_argument("--torch-python", help=bench.TORCH_PYTHON_HELP)
    parser.add_argument("--threads", type=int, default=1, help="threads of a reference run")
    parser.add_argument("--out", default=parity.DEFAULT_OUT, help="parity run cache")
    args = parser.parse_args(argv)
    if args.side == "reference":
        args.torch_python = bench.find_torch_python(args.torch_python)
        if args.torch_python is None:
            parser.error(f"the reference side needs torch: {bench.NO_TORCH_PYTHON}")
    os.makedirs(trace_folder(args), exist_ok=True)
    if args.side:
        paths, folder = held_out_paths(args)
        for seed in args.seeds:
            target = os.path.join(trace_folder(args), f"{args.side}_seed{seed}.json")
            if not os.path.exists(target):
                trace = trace_ppix2pix(seed, args, paths) if args.side == "ppix2pix" else \
                    trace_reference(seed, args, folder)
                with open(target, "w", encoding="utf-8") as handle:
                    json.dump(trace, handle)
    report(args)


if __name__ == "__main__":
    main()
