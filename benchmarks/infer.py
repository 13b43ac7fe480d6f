"""Inference speed and memory: eager Paddle vs the exported model through Paddle Inference.

Prints one JSON document: ms/image and images/s at each batch size for every backend, with the peak resident memory
(``resource.getrusage``) and thread counts of the process that ran it. Each (backend, batch size) runs in its own
process, so peak memory belongs to that configuration alone. Random weights (speed does not depend on them).

    python benchmarks/infer.py                                  # unet_256, 256x256, batch 1 and 8, CPU
    python benchmarks/infer.py --generator resnet_9blocks --batch-sizes 1 --repeats 3

Backends: eager-eval, eager-paper (dropout on, batch statistics), predictor (oneDNN on), predictor-no-onednn; on a
CUDA build with a GPU also eager-eval and predictor on the GPU, and predictor-fp16.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ppix2pix  # noqa: E402  (tunes the CPU runtime before Paddle loads)
from ppix2pix.accel import fast_layers_summary  # noqa: E402
from ppix2pix.runtime import runtime_summary, usable_cores  # noqa: E402
import bench_common as bench  # noqa: E402

CPU_BACKENDS = ("eager-eval", "eager-paper", "predictor", "predictor-no-onednn")
GPU_BACKENDS = ("gpu-eager-eval", "gpu-predictor", "gpu-predictor-fp16")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="unet_256", help="generator preset or class name (default unet_256)")
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=5, help="timed batches per configuration")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--backends", nargs="+", help=f"subset of {', '.join(CPU_BACKENDS + GPU_BACKENDS)}")
    parser.add_argument("--export-to", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, metavar=("BACKEND", "BATCH", "EXPORT_DIR"), help=argparse.SUPPRESS)
    return parser


def make_runner(backend, export_dir, config_overrides):
    """A callable running one aligned batch on the backend, plus the number of math threads it uses."""
    import paddle
    from ppix2pix.config import load_config
    from ppix2pix.exporter import PredictorRunner, read_export_info
    from ppix2pix.build import generator as build_generator
    from ppix2pix.translator import NetworkRunner
    threads = int(os.environ.get("OMP_NUM_THREADS") or usable_cores())
    if backend.startswith("gpu-"):
        paddle.set_device("gpu")
    if "predictor" in backend:
        options = {"device": "gpu" if backend.startswith("gpu-") else "cpu"}
        if backend == "predictor-no-onednn":
            options["onednn"] = False
        if backend.endswith("fp16"):
            options["precision"] = "fp16"
        return PredictorRunner(read_export_info(export_dir), **options), threads
    paddle.seed(0)
    cfg = load_config(None, config_overrides)
    net = build_generator(cfg["model"]["generator"])
    return NetworkRunner(net, "paper" if backend.endswith("paper") else "eval"), threads


def run_child(args):
    """Time one backend at one batch size in this process; print a JSON line."""
    import numpy as np
    backend, batch_size, export_dir = args.child[0], int(args.child[1]), args.child[2]
    runner, threads = make_runner(backend, export_dir, generator_overrides(args))
    from ppix2pix.config import load_config
    channels = load_config(None, generator_overrides(args))["model"]["generator"]["input_nc"]
    batch = np.random.default_rng(0).uniform(-1, 1, (batch_size, channels, args.size, args.size)).astype(np.float32)
    times = bench.time_calls(lambda: runner(batch), args.repeats, args.warmup)
    per_batch = float(np.median(times))
    print(json.dumps({
        "backend": backend, "batch": batch_size,
        "ms_per_image": round(1000 * per_batch / batch_size, 2),
        "images_per_s": round(batch_size / per_batch, 2),
        "ms_per_batch_min_median_max": [round(1000 * t, 1) for t in (min(times), per_batch, max(times))],
        "peak_rss_mb": bench.peak_rss_mb(), "math_threads": threads, "process_threads": bench.process_threads(),
    }))


def generator_overrides(args):
    return [f"model.generator.name={args.generator}"]


def export_model(args, folder):
    import paddle
    from ppix2pix.config import load_config
    from ppix2pix.exporter import export_generator
    from ppix2pix.build import generator as build_generator
    paddle.seed(0)
    cfg = load_config(None, generator_overrides(args))
    export_generator(build_generator(cfg["model"]["generator"]), cfg, folder, "eval")


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.child:
        run_child(args)
        return 0
    if args.export_to:
        export_model(args, args.export_to)
        return 0
    import paddle
    has_gpu = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
    backends = args.backends or list(CPU_BACKENDS + (GPU_BACKENDS if has_gpu else ()))
    results = []
    with tempfile.TemporaryDirectory() as folder:
        if any("predictor" in backend for backend in backends):
            # In a child: Linux keeps a process's peak RSS across fork + exec, so a big parent would inflate the
            # children's figures.
            subprocess.run([sys.executable, os.path.abspath(__file__), "--generator", args.generator,
                            "--export-to", folder], check=True)
        for backend in backends:
            for batch_size in args.batch_sizes:
                command = [sys.executable, os.path.abspath(__file__), "--generator", args.generator, "--size",
                           str(args.size), "--repeats", str(args.repeats), "--warmup", str(args.warmup),
                           "--child", backend, str(batch_size), folder]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode:
                    results.append({"backend": backend, "batch": batch_size,
                                    "error": done.stderr.strip().splitlines()[-1:]})
                    continue
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"{backend} batch {batch_size}: {results[-1]['ms_per_image']} ms/image", file=sys.stderr)
    print(json.dumps({
        "generator": args.generator, "size": args.size, "repeats": args.repeats,
        "machine": {"cpu": bench.cpu_model(), "usable_cores": usable_cores(),
                    "paddle": paddle.__version__, "gpu": has_gpu, "runtime": runtime_summary(),
                    "fast_layers": fast_layers_summary(),
                    "load_average": os.getloadavg()},
        "results": results,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
