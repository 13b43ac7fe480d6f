"""Training speed: seconds per full pix2pix iteration (G forward, D step, G step) with ppix2pix on this machine.

Prints one JSON document: s/iteration (min/median/max) at each batch size, peak resident memory and threads of the
process that ran it (one process per batch size), GFLOP/iteration, this machine's measured fp32 GEMM peak and the
fraction of that FLOP floor reached. Random weights and inputs (speed does not depend on them).

    python benchmarks/train_step.py                        # unet_256 + 70x70 PatchGAN, 256x256, batch 1 and 4
    python benchmarks/train_step.py --batch-sizes 1 --repeats 5 -o optimizer.optimG.multi_tensor=true
    PPIX2PIX_PLAIN_LAYERS=1 python benchmarks/train_step.py  # without the CPU fast layers
"""
import argparse
import os
import subprocess
import sys
import json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ppix2pix  # noqa: E402,F401  (tunes the CPU runtime before Paddle loads)
from ppix2pix.accel import fast_layers_summary  # noqa: E402
from ppix2pix.runtime import runtime_summary, usable_cores  # noqa: E402
import bench_common as bench  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image side (default 256)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--repeats", type=int, default=5, help="timed iterations per batch size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations first")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                        help="config override, e.g. model.generator.name=resnet_9blocks (repeatable)")
    parser.add_argument("--to-static", action="store_true", help="wrap G and D in paddle.jit.to_static")
    parser.add_argument("--child", type=int, metavar="BATCH", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # with --child: compare.py's worker
    return parser


def build_model(overrides):
    import paddle
    from ppix2pix.config import load_config
    from ppix2pix.pix2pix import Pix2PixModel
    paddle.seed(0)
    cfg = load_config(None, overrides)
    return cfg, Pix2PixModel(cfg, total_epochs=1)


def conv_forward_flops(net, batch):
    """Forward FLOPs of every conv / transposed conv of ``net``, in call order, for one forward of ``batch``."""
    import paddle
    flops, hooks = [], []

    def record(layer, inputs, output):
        kernel = int(layer.weight.shape[2] * layer.weight.shape[3])
        if isinstance(layer, paddle.nn.Conv2DTranspose):
            flops.append(bench.conv_flops(output.shape, None, kernel, transposed_in_shape=inputs[0].shape))
        else:
            flops.append(bench.conv_flops(output.shape, inputs[0].shape[1], kernel))

    for layer in net.sublayers():
        if isinstance(layer, (paddle.nn.Conv2D, paddle.nn.Conv2DTranspose)):
            hooks.append(layer.register_forward_post_hook(record))
    with paddle.no_grad():
        net(batch)
    for hook in hooks:
        hook.remove()
    return flops


def run_child(args):
    import numpy as np
    import paddle
    batch_size = args.child
    cfg, model = build_model(args.override)
    g_cfg = cfg["model"]["generator"]
    rng = np.random.default_rng(0)
    real_input = paddle.to_tensor(rng.uniform(-1, 1, (batch_size, g_cfg["input_nc"], args.size, args.size))
                                  .astype("float32"))
    real_target = paddle.to_tensor(rng.uniform(-1, 1, (batch_size, g_cfg["output_nc"], args.size, args.size))
                                   .astype("float32"))
    flops = bench.train_step_gflops(conv_forward_flops(model.netG, real_input),
                                    conv_forward_flops(model.netD, paddle.concat([real_input, real_target], 1)))
    if args.to_static:
        model.netG = paddle.jit.to_static(model.netG, full_graph=True)
        model.netD = paddle.jit.to_static(model.netD, full_graph=True)

    def step():
        losses = model.train_step(real_input, real_target)
        float(losses["G"])  # wait for the step to finish

    if args.serve:
        bench.serve_steps(step, args.warmup)
        return
    counters = {}
    times = bench.time_calls(step, args.repeats, args.warmup, counters)
    print(json.dumps({"batch": batch_size, "s_per_iter": bench.summarize(times), "times": [round(t, 4) for t in times],
                      "cpu_s_per_iter": counters["cpu_s_per_call"],
                      "minor_faults_per_iter": counters["minor_faults_per_call"],
                      "peak_rss_mb": bench.peak_rss_mb(), "process_threads": bench.process_threads(), **flops}))


def paddle_gemm_peak():
    import paddle
    return bench.gemm_peak_gflops(lambda a, b: paddle.matmul(paddle.to_tensor(a), paddle.to_tensor(b)).numpy())


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.child:
        run_child(args)
        return 0
    import paddle
    results = []
    for batch_size in args.batch_sizes:
        command = [sys.executable, os.path.abspath(__file__), "--size", str(args.size), "--repeats",
                   str(args.repeats), "--warmup", str(args.warmup), "--child", str(batch_size)]
        command += [f"--override={item}" for item in args.override] + (["--to-static"] if args.to_static else [])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            results.append({"batch": batch_size, "error": done.stderr.strip().splitlines()[-3:]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"batch {batch_size}: {results[-1]['s_per_iter']['median']} s/iter", file=sys.stderr)
    peak = max(bench.gemm_peak_gflops(), paddle_gemm_peak())
    for result in results:
        if "error" not in result:
            floor = result["gflop_per_iter"] / peak
            result["floor_s"] = round(floor, 3)
            result["fraction_of_floor"] = round(floor / result["s_per_iter"]["median"], 3)
    bench.print_json({
        "size": args.size, "overrides": args.override, "to_static": args.to_static,
        "machine": {"cpu": bench.cpu_model(), "usable_cores": usable_cores(), "paddle": paddle.__version__,
                    "math_threads": bench.threads_from_env(usable_cores()), "runtime": runtime_summary(),
                    "fast_layers": fast_layers_summary(), "gemm_peak_gflops": peak, "load_average": os.getloadavg()},
        "results": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
