"""tools/eval.py: L1 / PSNR / SSIM (and label-map scores) of generated images against their targets.

Two ways in:

* ``--outputs DIR --targets DIR``: compare finished images matched by relative path without extension (extra files
  in the output folder, such as infer.py's index_files/, are ignored; a target without an output is an error).
  ``--target-side A|B`` reads the targets as AB pair images and compares with that half.
* ``--checkpoint CKPT``: translate the test split (``dataset.test`` of the checkpoint's config, or ``--dataroot``)
  through the same preprocessing as validation during training, and compare with its targets.

Protocol: L1 is the mean absolute error on the [-1, 1] scale; PSNR (data range 255, capped at 100 dB) and SSIM
(scikit-image, 7x7 window) on 8-bit images; all averaged over images (see :mod:`ppix2pix.metrics`). Colorization
models are scored on the recombined RGB images. ``--palette cityscapes|facades|FILE`` adds, for photo -> labels, per-pixel
accuracy, per-class accuracy and class IoU: each pixel takes the class of its nearest palette colour, ground-truth
void pixels are ignored, and the confusion matrix is accumulated over the whole set (the pix2pix paper's FCN-score
definitions).
"""
import argparse

from ..choices import SIZE_MODES, TEST_MODES
from .common import add_fail_fast_argument, add_override_argument, run_cli

PROTOCOL = ("l1: mean |output - target| on the [-1, 1] scale; psnr: 8-bit, data range 255, identical images capped "
            "at 100 dB; ssim: scikit-image structural_similarity on 8-bit RGB, 7x7 window; all averaged per image. "
            "Label maps: nearest palette colour per pixel, ground-truth void ignored, confusion matrix over the whole "
            "set; pixel_acc = correct / labelled pixels, class_acc = mean over ground-truth classes of per-class "
            "recall, class_iou = mean over classes present of TP / (GT + predicted - TP).")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Protocol: " + PROTOCOL)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--outputs", help="folder of generated images (e.g. the --output of tools/infer.py)")
    source.add_argument("--checkpoint", help="translate the test split with this checkpoint and score it")
    parser.add_argument("--targets", help="folder of target images, matched to --outputs by relative path")
    parser.add_argument("--target-side", choices=("A", "B"),
                        help="targets are AB pair images: compare with their A (left) or B (right) half")
    parser.add_argument("--config", help="training config, only for weights-only checkpoints without one")
    parser.add_argument("--dataroot", help="test folder of AB images (default: the config's dataset.test)")
    add_override_argument(parser)  # only dataset.test.* keys may change
    parser.add_argument("--size-mode", choices=SIZE_MODES, default="pad")
    parser.add_argument("--test-mode", choices=TEST_MODES, help="default: the checkpoint's model.test_mode")
    parser.add_argument("--seed", type=int, default=0, help="seed of the paper-mode dropout")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--save-dir", help="also write the generated images here (--checkpoint only)")
    parser.add_argument("--device", choices=("cpu", "gpu"))
    parser.add_argument("--palette", help="score label maps: 'cityscapes', 'facades' or a palette file (YAML/JSON: "
                                          "classes: {name: [r, g, b]}, void: [[r, g, b], ...])")
    parser.add_argument("--json", help="where to write the results (default: metrics.json in --outputs or "
                                       "--save-dir, else <checkpoint>_eval.json)")
    add_fail_fast_argument(parser)
    return parser


def main(argv=None):
    """Entry point of tools/eval.py and ppix2pix-eval; returns the exit code: 0, 1 when some images could not be
    scored (the others were), 2 on a user error (or at the first bad input with --fail-fast)."""
    args = build_parser().parse_args(argv)
    from .evaluate_run import evaluate  # Paddle loads here, once the arguments are parsed
    return run_cli(evaluate, args, PROTOCOL)


if __name__ == "__main__":
    raise SystemExit(main())
