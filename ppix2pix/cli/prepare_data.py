"""tools/prepare_data.py: make, split and check paired datasets, and build the built-in demo set.

Every command that writes works in a hidden staging folder next to --out and renames it at the end, so an
interrupted run leaves nothing half-written; a non-empty --out is refused unless --overwrite.
"""
import argparse

from ..data import demo
from .common import run_cli


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _add_output(parser, ext=True):
    parser.add_argument("--out", required=True, help="output folder (must be new or empty, unless --overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output folder")
    if ext:
        parser.add_argument("--ext", default=".png", help="output image format, e.g. .png (default) or .jpg")


def build_parser():
    """The argument parser: one subcommand per job."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (_add_combine, _add_photo_commands, _add_split, _add_demo, _add_check):
        add_command(commands)
    return parser


def _add_combine(commands):
    sub = commands.add_parser("combine", help="A folder + B folder (matched by file name) -> AB images",
                              description="Combine A and B images of the same name into AB images (A left, B "
                                          "right). Train A -> B with model.direction AtoB.")
    sub.add_argument("a_dir", metavar="A_DIR")
    sub.add_argument("b_dir", metavar="B_DIR")
    sub.add_argument("--resize", action="store_true",
                     help="resize B to A's size when they differ (default: a size mismatch is an error)")
    _add_output(sub)
    sub.set_defaults(run="combine")


def _add_photo_commands(commands):
    for name, run, text in (("edges", "edges", "photos -> edges | photo AB pairs (train with direction AtoB)"),
                            ("gray", "gray", "photos -> gray | colour AB pairs (train with direction AtoB; BtoA with "
                                           "--photo-side left)")):
        sub = commands.add_parser(name, help=text, description=text + ". Photos are searched recursively; outputs "
                                                                       "are flat, subfolders joined by '_'.")
        sub.add_argument("photo_dir", metavar="PHOTO_DIR")
        sub.add_argument("--size", type=_positive, help="resize and centre-crop each photo to SIZE x SIZE first")
        if name == "gray":
            sub.add_argument("--photo-side", choices=("right", "left"), default="right",
                             help="side of the colour photo: right (default; A = gray, direction AtoB) or left "
                                  "(A = colour, direction BtoA)")
        _add_output(sub)
        sub.set_defaults(run=run)


def _add_split(commands):
    sub = commands.add_parser("split", help="a folder of AB images -> OUT/train, OUT/val, OUT/test",
                              description="Split a folder of AB images at random (seeded) into train/val/test "
                                          "subfolders; every file lands in exactly one split.")
    sub.add_argument("dir", metavar="DIR")
    sub.add_argument("--ratios", default="0.8,0.1,0.1", help="train,val,test (or train,test) fractions summing "
                                                             "to 1 (default 0.8,0.1,0.1)")
    sub.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    sub.add_argument("--link", choices=("hardlink", "symlink"), help="link instead of copying the files")
    _add_output(sub, ext=False)
    sub.set_defaults(run="split")


def _add_demo(commands):
    sub = commands.add_parser("demo", help="a small demo set from the photos bundled with scikit-image",
                              description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog=f"photos: {', '.join(demo.PHOTOS)}")
    sub.add_argument("--task", choices=tuple(demo.TASKS), default="denoise",
                     help="denoise (default; noisy -> clean, configs/demo.yaml) or edges2photo (edges -> photo, "
                          "configs/demo_edges.yaml)")
    sub.add_argument("--size", type=int, default=128, help="side of each A and B image (default 128)")
    sub.add_argument("--train-pairs", type=int, default=200, help="training pairs (default 200)")
    sub.add_argument("--test-pairs", type=int, default=20, help="test pairs (default 20)")
    sub.add_argument("--seed", type=int, default=0, help="random seed of the crops (default 0)")
    sub.add_argument("--out", help="output folder (default: " + ", ".join(f"{folder} for {task}" for task, folder
                                                                        in demo.DEFAULT_FOLDERS.items()) + ")")
    sub.add_argument("--overwrite", action="store_true", help="rebuild even if the folder holds a set")
    sub.set_defaults(run="build_demo")


def _add_check(commands):
    sub = commands.add_parser("check", help="list every problem file of a dataset (exit code 1 when any)",
                              description="Scan an AB folder, or A and B folders, and list every unreadable, "
                                          "truncated, odd-width, mismatched, unmatched or too small image. Exit "
                                          "code 0: clean, 1: problems found, 2: usage error.")
    sub.add_argument("dir", metavar="DIR", help="AB folder, or the A folder when B_DIR is given")
    sub.add_argument("b_dir", metavar="B_DIR", nargs="?", help="B folder (pairs matched by file name)")
    sub.add_argument("--crop-size", type=_positive, help="also report images whose sides are below this size")
    sub.set_defaults(run="check")


def main(argv=None):
    """Entry point of tools/prepare_data.py and ppix2pix-prepare-data; returns the exit code."""
    args = build_parser().parse_args(argv)
    from . import prepare_data_run  # Paddle may load from here on, once the arguments are parsed
    codes = []
    failed = run_cli(lambda: codes.append(getattr(prepare_data_run, args.run)(args)))
    return failed or codes[0]
