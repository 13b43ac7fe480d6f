"""tools/export.py: write a checkpoint's generator as a static Paddle model for Paddle Inference (and ONNX).

The model takes N x C x H x W float32 in [-1, 1] with any N and any H, W that are multiples of the generator's size
multiple (recorded in ppix2pix_export.yaml; tools/infer.py --predictor pads or resizes for it). After writing, the
exported model is checked against the eager network (eval mode: max abs difference must stay below 1e-4).
See :mod:`ppix2pix.exporter` for how the paper test-time mode is exported.
"""
import argparse

from ..choices import EXPORT_INFO_FILE, TEST_MODES
from .common import run_cli


def build_parser():
    parser = argparse.ArgumentParser(description="Export a generator for Paddle Inference.")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file (its config rebuilds the generator)")
    parser.add_argument("--output", required=True, help="folder for generator.json/.pdiparams and " + EXPORT_INFO_FILE)
    parser.add_argument("--config", help="training config, only for weights-only checkpoints without one")
    parser.add_argument("--test-mode", choices=TEST_MODES,
                        help="behaviour baked into the model (default: the checkpoint's model.test_mode). 'paper' "
                             "keeps dropout and batch statistics; its dropout draws new masks on every run")
    parser.add_argument("--onnx", action="store_true", help="also write generator.onnx (needs paddle2onnx)")
    parser.add_argument("--opset", type=int, default=11, help="ONNX opset version (default 11)")
    parser.add_argument("--check-size", type=int, help="side of the random image used for the parity check "
                                                       "(default: the generator's size multiple)")
    return parser


def main(argv=None):
    """Entry point of tools/export.py and ppix2pix-export; returns the exit code."""
    args = build_parser().parse_args(argv)
    from .export_run import export  # Paddle loads here, once the arguments are parsed
    return run_cli(export, args)


if __name__ == "__main__":
    raise SystemExit(main())
