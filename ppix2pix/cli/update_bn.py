"""tools/update_bn.py: re-estimate a trained generator's BatchNorm running statistics over its training data.

Eval mode (``--test-mode eval`` in infer/eval/export) normalizes with running averages that, at batch 1, remember
only the last ~20 training steps and swing from step to step; this writes a copy of the generator whose statistics
are the plain average over ``--batches`` training batches, drawn with the training jitter, with the final weights
(:mod:`ppix2pix.networks.running_statistics`). The paper's test mode does not use them and is unchanged.
"""
import argparse

from .common import add_override_argument, run_cli


def build_parser():
    parser = argparse.ArgumentParser(description="Re-estimate a generator's BatchNorm running statistics (eval "
                                                 "mode) over its training data.")
    parser.add_argument("--checkpoint", required=True, help="checkpoint or generator weights (its config gives the "
                                                            "network and the training data)")
    parser.add_argument("--output", required=True, help="where the generator with the new statistics goes "
                                                        "(a .pdparams file; never the checkpoint itself)")
    parser.add_argument("--config", help="training config, only for weights-only files without one")
    parser.add_argument("--dataroot", help="training pairs to use instead of the config's dataset.train")
    parser.add_argument("--batches", type=int, default=200, help="training batches to average over (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch order, jitter and dropout")
    parser.add_argument("--device", choices=("cpu", "gpu"), help="default: the GPU when there is one")
    add_override_argument(parser)
    return parser


def main(argv=None):
    """Entry point of tools/update_bn.py and ppix2pix-update-bn; returns the exit code."""
    args = build_parser().parse_args(argv)
    from .update_bn_run import update_bn  # Paddle loads here, once the arguments are parsed
    return run_cli(update_bn, args)


if __name__ == "__main__":
    raise SystemExit(main())
