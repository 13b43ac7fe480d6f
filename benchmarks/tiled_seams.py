"""Seams of tiled inference: a trained generator on a large mosaic of real inputs, tiled in several ways.

Prints one JSON document. The input is an N x N mosaic of the network-side halves of real AB pairs (the half the
checkpoint's direction reads), each resized to the training crop size, so the network sees its training scale;
``--flat`` paints the lower-left 5/8 x 5/8 of it in one label colour (an image that is not alike everywhere, where
per-tile statistics differ most from the whole image's). For each test-time mode and each way of tiling it reports:

* ``seam_ratio``: mean absolute step across the lines where tiles switch (the middle of each overlap) over the mean
  step between all other neighbouring pixels (:func:`ppix2pix.metrics.seam_ratio`; about 1: no seam);
* ``diff_to_untiled``: mean absolute difference (on [0, 1]) to the untiled output of the same mode and seed; for
  paper mode, ``untiled, other seed`` gives the floor the dropout alone makes; for eval mode, ``untiled, paper mode``
  how far eval mode's output is from paper mode's.

Ways of tiling: per-tile statistics, whole-image statistics pooled over all tiles (the default), and, for the
record, statistics of the whole image downscaled to one tile (``downscaled``: measured worse, not offered), each with
the raised-cosine blend and with hard tile switches.

    python benchmarks/tiled_seams.py --checkpoint RUN/netG.pdparams [--data ../shared/data/facades/test] [--flat]
"""
import argparse
import glob
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import ppix2pix  # noqa: E402,F401  (tunes the CPU runtime before Paddle loads)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a trained generator checkpoint (AB-pair data)")
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "facades", "test"),
                        help="folder of AB images (default ../shared/data/facades/test)")
    parser.add_argument("--cells", type=int, default=8, help="mosaic of CELLS x CELLS inputs (default 8)")
    parser.add_argument("--tile", type=int, default=256, help="tile side (default 256)")
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap (default 64)")
    parser.add_argument("--flat", action="store_true", help="paint the lower-left 5/8 x 5/8 in one colour")
    return parser


def mosaic(args, cfg):
    """The N x N mosaic of network-side halves at the training crop size (and the flat region's mask)."""
    from ppix2pix.data.dataset import split_ab
    from ppix2pix.data.image_io import read_image
    from ppix2pix.data.resample import resize
    from ppix2pix.direction import input_and_target
    size = cfg["dataset"]["train"]["crop_size"]
    paths = sorted(glob.glob(os.path.join(args.data, "*.jpg")) + glob.glob(os.path.join(args.data, "*.png")))
    cells = []
    for path in paths[:args.cells ** 2]:
        source, _ = input_and_target(cfg["model"]["direction"], *split_ab(read_image(path), path))
        cells.append(resize(source, size, size, cfg["dataset"]["train"]["interpolation"]))
    rows = [np.concatenate(cells[row * args.cells:(row + 1) * args.cells], axis=1) for row in range(args.cells)]
    image, flat = np.concatenate(rows, axis=0), np.zeros((size * args.cells,) * 2, bool)
    if args.flat:
        colours, counts = np.unique(cells[0].reshape(-1, cells[0].shape[2]), axis=0, return_counts=True)
        side = size * args.cells * 5 // 8
        flat[-side:, :side] = True
        image[flat] = colours[counts.argmax()]
    return image, flat


def downscaled(tiled_class):
    """A tiled translator whose shared statistics come from the whole image downscaled to one tile's pixels."""
    from ppix2pix.data.resample import resize
    from ppix2pix.networks.norm_statistics import fixed_statistics, recorded_statistics
    from ppix2pix.translator import pad_batch

    class Downscaled(tiled_class):
        def shared_statistics(self, image, grid):
            height, width = image.shape[:2]
            scale = min(1.0, self.tile / math.sqrt(height * width))
            small = resize(image, round(height * scale), round(width * scale), self.translator.interpolation)
            with recorded_statistics(self.net) as recorder:
                self.translator.run_batch(pad_batch(self.translator.prepare(small)[None], self.multiple)[0])
            return fixed_statistics(self.net, recorder.statistics())
    return Downscaled


def measure(args, image, flat, mode):
    """{way of tiling: scores} for one test-time mode."""
    from ppix2pix.metrics import seam_ratio
    from ppix2pix.tiling import TiledTranslator
    from ppix2pix.translator import Translator
    translator = Translator.from_checkpoint(args.checkpoint, test_mode=mode, seed=0)
    untiled = translator.translate([image])[0]
    grid = TiledTranslator(translator, args.tile, args.overlap).grid(*image.shape[:2])
    seams = grid.rows.seams(), grid.columns.seams()

    def scores(output):
        difference = np.abs(output - untiled).mean(axis=2)
        result = {"seam_ratio": round(seam_ratio(output, *seams), 3),
                  "diff_to_untiled": round(float(difference.mean()), 4)}
        if flat.any():
            result["diff_flat_region"] = round(float(difference[flat].mean()), 4)
            result["diff_elsewhere"] = round(float(difference[~flat].mean()), 4)
        return result

    results = {"untiled": scores(untiled)}
    if mode == "eval":  # how far eval mode itself is from the paper-mode output
        paper = Translator.from_checkpoint(args.checkpoint, test_mode="paper", seed=0).translate([image])[0]
        results["untiled, paper mode"] = {"diff_to_untiled": round(float(np.abs(paper - untiled).mean()), 4)}
    if mode == "paper":
        other_seed = Translator.from_checkpoint(args.checkpoint, test_mode=mode, seed=1)
        results["untiled, other seed"] = scores(other_seed.translate([image])[0])
    ways = {"per-tile statistics": (TiledTranslator, "tile"), "whole-image statistics": (TiledTranslator, "image"),
            "downscaled-image statistics": (downscaled(TiledTranslator), "image")}
    if mode == "eval":  # BatchNorm reads its stored statistics: one way
        ways = {"tiled": (TiledTranslator, "image")}
    for name, (tiled_class, statistics) in ways.items():
        for window in ("cosine", "hard"):
            tiled = tiled_class(translator, args.tile, args.overlap, statistics=statistics, window=window)
            results[f"{name}, {window}"] = scores(tiled.translate([image])[0])
            print(f"{mode} {name}, {window}: {results[f'{name}, {window}']}", file=sys.stderr, flush=True)
    return results


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ppix2pix.weights import load_generator
    _, cfg = load_generator(args.checkpoint)
    image, flat = mosaic(args, cfg)
    document = {"checkpoint": os.path.basename(args.checkpoint), "generator": cfg["model"]["generator"]["name"],
                "image": list(image.shape[:2]), "tile": args.tile, "overlap": args.overlap, "flat_region": args.flat}
    for mode in ("paper", "eval"):
        document[mode] = measure(args, image, flat, mode)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
