"""ppix2pix vs PyTorch side by side in one run: alternating rounds, every measurement in its own subprocess.

Each round runs, in turn: the ppix2pix train step (benchmarks/train_step.py) and the PyTorch one
(benchmarks/reference_torch.py --benchmark) at batch 1 and 4, then inference at batch 1 and 8 with eager ppix2pix,
the exported model through the Paddle Inference predictor, and eager PyTorch. Interleaving spreads background load
over all contenders. Prints per-round times, medians over rounds and ratios (ppix2pix / PyTorch) as JSON.

With ``--paired-steps N`` the training steps are also timed in pairs: one ppix2pix and one PyTorch process stay up
(only one of them runs at a time) and take turns, one iteration each, N times; the ratio of each adjacent pair is
immune to the slow drifts of a shared host that can move a whole round by 40 %.

    python benchmarks/compare.py --rounds 3 --paired-steps 12        # torch from --torch-python, $TORCH_PYTHON or PATH
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import bench_common as bench  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-python", help=bench.TORCH_PYTHON_HELP)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="timed iterations / batches per measurement")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--train-batches", type=int, nargs="*", default=[1, 4])
    parser.add_argument("--infer-batches", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--paired-steps", type=int, default=0,
                        help="also time N training iterations per batch size in adjacent ppix2pix / PyTorch pairs")
    return parser


def last_json_line(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def contenders(args, export_dir):
    """(label, command, value-of-result) for every measurement of one round."""
    timing = ["--repeats", str(args.repeats), "--warmup", str(args.warmup)]
    paddle, torch = sys.executable, args.torch_python
    items = []
    for batch in args.train_batches:
        items.append((f"train b{batch} ppix2pix", [paddle, os.path.join(HERE, "train_step.py"), *timing,
                                                    "--child", str(batch)], lambda r: r["s_per_iter"]["median"]))
        items.append((f"train b{batch} torch", [torch, os.path.join(HERE, "reference_torch.py"), "--benchmark",
                                                 *timing, "--batch-sizes", str(batch)],
                      lambda r: r["s_per_iter"]["median"]))
    for batch in args.infer_batches:
        for backend in ("eager-eval", "predictor"):
            items.append((f"infer b{batch} ppix2pix {backend}",
                          [paddle, os.path.join(HERE, "infer.py"), *timing, "--child", backend, str(batch),
                           export_dir], lambda r: r["ms_per_image"]))
        items.append((f"infer b{batch} torch", [torch, os.path.join(HERE, "reference_torch.py"), "--benchmark",
                                                 "--infer", *timing, "--batch-sizes", str(batch)],
                      lambda r: r["ms_per_image"]))
    return items


class _Worker:
    """A benchmark process serving training steps on request (``bench_common.serve_steps``)."""

    def __init__(self, command):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.reply("ready")

    def reply(self, key):
        for line in self.process.stdout:
            if line.startswith("{") and key in (message := json.loads(line)):
                return message[key]
        raise RuntimeError(f"{' '.join(self.process.args)} ended before answering {key!r}")

    def step(self):
        self.process.stdin.write("step\n")
        self.process.stdin.flush()
        return self.reply("seconds")

    def close(self):
        self.process.stdin.close()
        peak = self.reply("peak_rss_mb")
        self.process.wait()
        return peak


def paired_train(args, batch):
    """``--paired-steps`` iterations of ppix2pix and PyTorch at ``batch``, taking turns (who goes first alternates);
    s/iteration medians and the ratio of each adjacent pair."""
    timing = ["--warmup", str(max(args.warmup, 1))]
    workers = {"ppix2pix": _Worker([sys.executable, os.path.join(HERE, "train_step.py"), *timing, "--child",
                                    str(batch), "--serve"]),
               "torch": _Worker([args.torch_python, os.path.join(HERE, "reference_torch.py"), "--benchmark",
                                 "--serve", *timing, "--batch-sizes", str(batch)])}
    times = {name: [] for name in workers}
    try:
        for number in range(args.paired_steps):
            for name in (("ppix2pix", "torch") if number % 2 == 0 else ("torch", "ppix2pix")):
                times[name].append(workers[name].step())
    finally:
        peaks = {name: worker.close() for name, worker in workers.items()}
    pair_ratios = [ours / theirs for ours, theirs in zip(times["ppix2pix"], times["torch"])]
    print(f"paired b{batch}: ratio median {statistics.median(pair_ratios):.3f}", file=sys.stderr, flush=True)
    return {"s_per_iter": {name: round(statistics.median(values), 4) for name, values in times.items()},
            "pair_ratios": [round(r, 3) for r in pair_ratios],
            "ratio_median": round(statistics.median(pair_ratios), 3),
            "ratio_quartiles": [round(q, 3) for q in statistics.quantiles(pair_ratios, n=4)[::2]],
            "times": times, "peak_rss_mb": peaks}


def ratios(medians):
    """ppix2pix / PyTorch for every ppix2pix entry whose PyTorch counterpart was measured."""
    out = {}
    for label, value in medians.items():
        if "ppix2pix" in label:
            kind = label.split(" ppix2pix")[0]
            if f"{kind} torch" in medians:
                out[label] = round(value / medians[f"{kind} torch"], 3)
    return out


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.torch_python = bench.find_torch_python(args.torch_python)
    if args.torch_python is None:
        parser.error(bench.NO_TORCH_PYTHON)
    # Paddle is never imported here: Linux keeps a process's peak RSS across fork + exec, so a big parent would
    # inflate every child's peak_rss_mb.
    rounds, peaks = [], {}
    with tempfile.TemporaryDirectory() as export_dir:
        if args.infer_batches:
            subprocess.run([sys.executable, os.path.join(HERE, "infer.py"), "--export-to", export_dir], check=True)
        items = contenders(args, export_dir)
        for number in range(args.rounds):
            measured = {}
            for label, command, value in items:
                result = last_json_line(command)
                measured[label] = value(result)
                peaks[label] = max(peaks.get(label, 0), result["peak_rss_mb"])
                print(f"round {number + 1} {label}: {measured[label]}", file=sys.stderr, flush=True)
            rounds.append(measured)
    paired = {f"train b{batch}": paired_train(args, batch) for batch in args.train_batches} if args.paired_steps else {}
    medians = {label: round(statistics.median(r[label] for r in rounds), 4) for label in rounds[0]} if rounds else {}
    bench.print_json({
        "units": "train: s/iteration; infer: ms/image",
        "machine": {"cpu": bench.cpu_model(), "usable_cores": len(os.sched_getaffinity(0)),
                    "load_average": os.getloadavg()},
        "rounds": rounds, "medians": medians, "ratios_vs_torch": ratios(medians), "peak_rss_mb": peaks,
        "paired": paired,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
