"""``tools/train.py``: train pix2pix from a YAML config (PaddleGAN layout) with overrides and resume."""
import argparse
import sys

from ..choices import CHECK_DATA_MODES
from .common import add_override_argument, flat_overrides, run_cli


def build_parser():
    """The train command's arguments."""
    parser = argparse.ArgumentParser(
        description="Train a pix2pix model. Distributed: python -m paddle.distributed.launch "
        "--gpus 0,1 tools/train.py -c CONFIG (or --nproc_per_node 2 on CPU).")
    parser.add_argument("-c", "--config", required=True, help="YAML config (see configs/)")
    add_override_argument(parser)
    parser.add_argument("--resume", metavar="PATH|auto",
                        help="continue from a checkpoint; 'auto' takes output_dir/checkpoints/latest.pdparams")
    parser.add_argument("--amp", action="store_true", help="mixed precision on GPU (same as -o amp=true)")
    parser.add_argument("--output-dir", help="output folder (same as -o output_dir=...)")
    parser.add_argument("--seed", type=int, help="random seed (same as -o seed=...)")
    parser.add_argument("--check-data", choices=CHECK_DATA_MODES, default="fast",
                        help="check the train and test images before the first iteration: fast (every file's header "
                        "and end marker, default), full (decode every file) or off; results are cached in "
                        "output_dir/data_check.json, bad files handled as dataset.*.bad_files says")
    return parser


def main(argv=None):
    """Run training; returns 0 on success, 2 on a user error, 130 when interrupted (checkpoint saved)."""
    args = build_parser().parse_args(argv)
    from ..config import load_config  # Paddle loads here, once the arguments are parsed
    from ..trainer import Trainer
    overrides = flat_overrides(args)
    if args.amp:
        overrides.append("amp=true")
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    return run_cli(lambda: Trainer(load_config(args.config, overrides), resume=args.resume,
                                   check_data=args.check_data).train())


if __name__ == "__main__":
    sys.exit(main())
