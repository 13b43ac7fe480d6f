"""Peak memory of tiled and untiled inference as the image grows (unet_256 by default).

Prints one JSON document. Each (width, tiled or untiled) runs in a fresh process, so each peak resident memory
(``getrusage``) is that run's alone; the process also reports its memory once the network is built (``baseline``)
and the bytes of the image buffers (uint8 input, float32 output) that any run holds. Square random images, random
weights (memory does not depend on them), eager CPU.

    python benchmarks/tiled_memory.py [--widths 1024 4096 8192] [--untiled-max 4096] [--test-mode eval]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_common as bench  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generator", default="unet_256", help="generator preset or class name (default unet_256)")
    parser.add_argument("--widths", type=int, nargs="+", default=[1024, 4096, 8192], help="image sides")
    parser.add_argument("--tile", type=int, default=512, help="tile side (default 512)")
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap (default 64)")
    parser.add_argument("--test-mode", default="eval", help="eval (default) or paper (tiles twice: statistics pass)")
    parser.add_argument("--untiled-max", type=int, default=4096,
                        help="largest width also run untiled (default 4096; larger ones need more memory than a "
                             "usual machine has)")
    parser.add_argument("--child", nargs=2, metavar=("WIDTH", "TILED"), help=argparse.SUPPRESS)
    return parser


def run_child(args):
    """Translate one random WIDTH x WIDTH image in this process; print a JSON line."""
    import numpy as np
    import paddle
    from ppix2pix.build import generator as build_generator
    from ppix2pix.config import load_config
    from ppix2pix.tiling import TiledTranslator
    from ppix2pix.translator import Translator
    width, tiled = int(args.child[0]), args.child[1] == "tiled"
    paddle.seed(0)
    cfg = load_config(None, [f"model.generator.name={args.generator}"])
    translator = Translator.from_network(build_generator(cfg["model"]["generator"]), cfg, test_mode=args.test_mode)
    image = np.random.default_rng(0).integers(0, 256, (width, width, 3), dtype=np.uint8)
    baseline = bench.peak_rss_mb()
    if tiled:
        translator = TiledTranslator(translator, args.tile, args.overlap)
    start = time.perf_counter()
    output = translator.translate([image])[0]
    seconds = time.perf_counter() - start
    print(json.dumps({
        "width": width, "tiled": tiled, "peak_rss_mb": bench.peak_rss_mb(), "baseline_rss_mb": baseline,
        "image_buffers_mb": round((image.nbytes + output.nbytes) / 2 ** 20, 1), "seconds": round(seconds, 1),
        "tiles": len(translator.grid(width, width)) if tiled else 1,
    }))


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.child:
        run_child(args)
        return 0
    results = []
    for width in args.widths:
        for tiled in ("tiled", "untiled"):
            if tiled == "untiled" and width > args.untiled_max:
                results.append({"width": width, "tiled": False, "skipped": f"wider than --untiled-max "
                                                                           f"{args.untiled_max}"})
                continue
            command = [sys.executable, os.path.abspath(__file__), "--generator", args.generator, "--tile",
                       str(args.tile), "--overlap", str(args.overlap), "--test-mode", args.test_mode,
                       "--child", str(width), tiled]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                results.append({"width": width, "tiled": tiled == "tiled",
                                "error": done.stderr.strip().splitlines()[-1:]})
            else:
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    bench.print_json({"generator": args.generator, "tile": args.tile, "overlap": args.overlap,
                      "test_mode": args.test_mode, "cpu": bench.cpu_model(), "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
