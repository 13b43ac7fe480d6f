"""tools/infer.py: translate a folder, an image or a glob of images with a checkpoint (or an exported model).

The checkpoint rebuilds its own generator from the config stored in it. Outputs keep the input's relative path and
file name under ``--output``; ``index.html`` there (then ``index_2.html``, ... every 50 rows) shows input, output
(and target) thumbnails under a one-line description of the task (``--title``). With targets (AB pairs) it also shows
each image's L1, PSNR and SSIM and their mean, written to ``metrics.json`` too. AB pair images (A left, B right) are
split and the half the generator reads is taken by the checkpoint's direction; which inputs are AB pairs is decided
in :mod:`.ab_reading`. Large images are translated tile by tile (:mod:`ppix2pix.tiling`).

A video file (``--input clip.mp4 --output out.mp4``) is translated frame by frame into a video of the same frame rate
and size (ppix2pix/video.py).
"""
import argparse

from ..choices import (DEFAULT_MAX_PIXELS, DEFAULT_TILE, DEFAULT_TILE_OVERLAP, SIZE_MODES, TEST_MODES,
                       TILE_STATISTICS, VIDEO_EXTENSIONS)
from .common import add_fail_fast_argument, run_cli


def build_parser():
    parser = argparse.ArgumentParser(
        description="Translate images with a trained pix2pix generator.",
        epilog="Test-time modes: 'paper' keeps dropout on and normalizes with each batch's statistics (the paper's "
               "choice, default of the shipped configs); 'eval' switches dropout off and uses the running statistics "
               "(deterministic). In paper mode --seed fixes the dropout draw; with --batch-size > 1 an output also "
               "depends on the other images of its batch.")
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint file (or, with --predictor, a folder written by tools/export.py)")
    parser.add_argument("--input", required=True, help="image folder (searched recursively), image file or glob; "
                                                        "or a video file (" + ", ".join(VIDEO_EXTENSIONS) + ")")
    parser.add_argument("--output", required=True, help="folder for the results (created); for a video input, the "
                                                         "output video file (its extension picks the codec)")
    parser.add_argument("--config", help="training config, only for weights-only checkpoints without one")
    parser.add_argument("--size-mode", choices=SIZE_MODES, default="pad",
                        help="bring any size to the generator's multiple by reflect padding (default) or resizing")
    parser.add_argument("--test-mode", choices=TEST_MODES,
                        help="test-time mode (default: the checkpoint's model.test_mode)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the paper-mode dropout (default 0)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per batch (same-size images only)")
    pairs = parser.add_mutually_exclusive_group()
    pairs.add_argument("--ab", dest="ab", action="store_true", default=None,
                       help="inputs are AB pair images (default: when the checkpoint was trained on AB images and "
                            "there are several inputs, every one exactly twice as wide as tall)")
    pairs.add_argument("--no-ab", dest="ab", action="store_false", help="inputs are whole images")
    add_tiling_arguments(parser)
    parser.add_argument("--side-by-side", action="store_true",
                        help="also write input | output | target images under OUTPUT/side_by_side/ (a video: "
                             "input | output frames, twice as wide)")
    parser.add_argument("--predictor", action="store_true",
                        help="run an exported model (--checkpoint DIR from tools/export.py) with Paddle Inference")
    parser.add_argument("--device", choices=("cpu", "gpu"), help="default: the GPU when there is one")
    parser.add_argument("--title", help="one-line description of the task at the top of index.html (default: the "
                                        "checkpoint's dataset folder and direction, and its file name)")
    add_fail_fast_argument(parser)
    return parser


def add_tiling_arguments(parser):
    """--tile, --tile-overlap, --max-pixels, --tile-statistics."""
    parser.add_argument("--tile", type=int,
                        help=f"translate images larger than one TILE x TILE tile (a multiple of the generator's size "
                             f"multiple) tile by tile, with the memory of one tile; 0 never tiles (default: "
                             f"{DEFAULT_TILE}, or the multiple if larger, for images over --max-pixels)")
    parser.add_argument("--tile-overlap", type=int, default=DEFAULT_TILE_OVERLAP,
                        help=f"pixels neighbouring tiles share, blended with a raised-cosine ramp (default "
                             f"{DEFAULT_TILE_OVERLAP})")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS,
                        help=f"without --tile, images with more pixels are tiled (default {DEFAULT_MAX_PIXELS} = "
                             f"2048x2048; 0: never)")
    parser.add_argument("--tile-statistics", choices=TILE_STATISTICS, default="image",
                        help="what tiles are normalized with where the network normalizes with its input's "
                             "statistics (paper mode's BatchNorm, InstanceNorm): 'image' pools them over all tiles "
                             "in a first pass (default; twice the work), 'tile' lets each tile use its own")


def main(argv=None):
    """Entry point of tools/infer.py and ppix2pix-infer; returns the exit code: 0, 1 when some inputs could not be
    translated (the others were), 2 on a user error (or at the first bad input with --fail-fast)."""
    args = build_parser().parse_args(argv)
    # Paddle loads here, once the arguments are parsed
    if args.input.lower().endswith(VIDEO_EXTENSIONS) or args.output.lower().endswith(VIDEO_EXTENSIONS):
        from .infer_video import infer_video as work
    else:
        from .infer_run import infer as work
    return run_cli(work, args)


if __name__ == "__main__":
    raise SystemExit(main())
