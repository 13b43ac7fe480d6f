"""tools/prepare_data.py: make, split and check paired datasets, and build the built-in demo set.

Every command that writes works in a hidden staging folder next to --out and renames it at the end, so an
interrupted run leaves nothing half-written; a non-empty --out is refused unless --overwrite.
"""
import argparse
import json
import os

import numpy as np

from ..data import demo
from ..data.check import check_ab_folder, check_ab_folders, summarize
from ..data.dataset import list_images, match_pairs
from ..data.image_io import read_image, write_image
from ..data.prepare import (as_rgb8, check_extension, combine_images, edge_map, gray_version, output_name,
                            parse_ratios, place_file, resize_and_center_crop, side_by_side, split_files,
                            staged_folder)
from ..errors import CliError
from .common import Progress, find_images, run_cli

DEMO_CONFIG = "configs/demo.yaml"
DEMO_OUT = os.path.join("data", "demo")


def _write_all(items, staging, total):
    """Write (file name, image) items into ``staging`` with progress; returns the count."""
    progress = Progress(total)
    for name, image in items:
        write_image(os.path.join(staging, name), image)
        progress.update(1)
    return total


def _photos(folder, out, ext):
    """[(path, output name)] of the photos under ``folder`` (recursive); two photos may not map to one name."""
    found = [(path, output_name(relative, ext)) for path, relative in find_images(folder, exclude=out)]
    taken = {}
    for path, name in found:
        if name in taken:
            raise CliError(f"{taken[name]} and {path} would both be written as {name}; rename one of them")
        taken[name] = path
    return found


def _photo_pairs(args, make_ab):
    """Write make_ab(photo) for every photo of args.photo_dir into args.out; returns the count."""
    ext = check_extension(args.ext)
    photos = _photos(args.photo_dir, args.out, ext)
    print(f"{len(photos)} photos in {args.photo_dir}")

    def items():
        for path, name in photos:
            photo = as_rgb8(read_image(path))
            yield name, make_ab(resize_and_center_crop(photo, args.size) if args.size else photo)

    with staged_folder(args.out, args.overwrite, [args.photo_dir]) as staging:
        return _write_all(items(), staging, len(photos))


def combine(args):
    """A and B folders matched by name -> AB images."""
    ext = check_extension(args.ext)
    pairs = match_pairs(args.a_dir, args.b_dir)
    print(f"{len(pairs)} pairs matched by name in {args.a_dir} (A) and {args.b_dir} (B)")
    items = ((os.path.splitext(os.path.basename(a))[0] + ext, combine_images(read_image(a), read_image(b), a, b,
                                                                              args.resize)) for a, b in pairs)
    with staged_folder(args.out, args.overwrite, [args.a_dir, args.b_dir]) as staging:
        count = _write_all(items, staging, len(pairs))
    print(f"wrote {count} AB images (A left, B right) to {args.out}; train with model.direction AtoB for A -> B, "
          f"BtoA for B -> A")
    return 0


def edges(args):
    """Photos -> edges | photo AB pairs."""
    count = _photo_pairs(args, lambda photo: side_by_side(edge_map(photo), photo))
    print(f"wrote {count} AB images (A = edges left, B = photo right) to {args.out}; train edges -> photo with "
          f"model.direction AtoB")
    return 0


def gray(args):
    """Photos -> gray | colour AB pairs (or colour | gray with --photo-side left)."""
    photo_left = args.photo_side == "left"
    count = _photo_pairs(args, lambda photo: side_by_side(photo, gray_version(photo)) if photo_left
                         else side_by_side(gray_version(photo), photo))
    layout, direction = ("A = colour left, B = gray right", "BtoA") if photo_left else \
        ("A = gray left, B = colour right", "AtoB")
    print(f"wrote {count} AB images ({layout}) to {args.out}; train gray -> colour with model.direction {direction} "
          f"and model.generator.input_nc 1")
    return 0


def split(args):
    """A folder of AB images -> OUT/train, OUT/val, OUT/test."""
    ratios = parse_ratios(args.ratios)
    paths = list_images(args.dir, "input folder")
    parts = split_files(paths, ratios, args.seed)
    mode = args.link or "copy"
    with staged_folder(args.out, args.overwrite, [args.dir]) as staging:
        progress = Progress(len(paths))
        for name, members in parts.items():
            if members:
                os.makedirs(os.path.join(staging, name))
            for path in members:
                place_file(path, os.path.join(staging, name, os.path.basename(path)), mode)
                progress.update(1)
    print(f"split {len(paths)} files of {args.dir} into {args.out} (seed {args.seed}, {mode}):")
    for name, members in parts.items():
        note = "  (empty: no folder written)" if not members else ""
        print(f"  {name}: {len(members)} files (ratio {ratios[name]:g}){note}")
        if not members and ratios[name] > 0:
            print(f"warning: split {name} has ratio {ratios[name]:g} but got no files; there are too few files")
    return 0


def _next_command(args):
    overrides = []
    if os.path.normpath(args.out) != DEMO_OUT:
        overrides += [f"dataset.train.dataroot={os.path.join(args.out, 'train')}",
                      f"dataset.test.dataroot={os.path.join(args.out, 'test')}"]
    if args.task != "gray2color":
        overrides.append(f"model.direction={demo.TASKS[args.task]}")
    return f"python tools/train.py -c {DEMO_CONFIG}" + (" -o " + " ".join(overrides) if overrides else "")


def build_demo(args):
    """The built-in demo set from scikit-image's bundled photos."""
    parameters = demo.demo_parameters(args.task, args.size, args.train_pairs, args.test_pairs, args.seed)
    if not args.overwrite and demo.existing_demo(args.out, parameters):
        print(f"the demo set is already in {args.out} (same parameters); nothing to do (--overwrite rebuilds it)")
        print(f"next: {_next_command(args)}")
        return 0
    splits = {"train": (args.train_pairs, demo.TRAIN_PHOTOS), "test": (args.test_pairs, demo.TEST_PHOTOS)}
    with staged_folder(args.out, overwrite=True) as staging:
        for offset, (name, (count, photos)) in enumerate(splits.items()):
            print(f"{name}: {count} pairs of {args.size}x{args.size} from {', '.join(photos)}")
            rng = np.random.default_rng([args.seed, offset])
            folder = os.path.join(staging, name)
            _write_all(demo.demo_pairs(args.task, args.size, count, photos, rng), folder, count)
        with open(os.path.join(staging, demo.MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(demo.manifest(parameters), handle, indent=2)
    print(f"wrote the {args.task} demo set to {args.out}: train/ {args.train_pairs} and test/ {args.test_pairs} AB "
          f"images ({demo.LAYOUTS[args.task]}; test photos are not in train); direction "
          f"{demo.TASKS[args.task]}")
    print(f"next: {_next_command(args)}")
    return 0


def check(args):
    """Every problem file of an AB folder (or A and B folders); exit code 1 when there are problems."""
    if args.b_dir:
        checked, problems = check_ab_folders(args.dir, args.b_dir, args.crop_size, Progress)
    else:
        checked, problems = check_ab_folder(args.dir, args.crop_size, Progress)
    for path, kind, message in problems:
        print(f"{path}: {kind}: {message}")
    where = f"{args.dir} and {args.b_dir}" if args.b_dir else args.dir
    if not problems:
        print(f"checked {checked} files in {where}: no problems")
        return 0
    files = len({path for path, _, _ in problems})
    print(f"checked {checked} files in {where}: {len(problems)} problems in {files} files ({summarize(problems)})")
    return 1


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
    parser = argparse.ArgumentParser(prog="prepare_data.py", description=__doc__,
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
    sub.set_defaults(run=combine)


def _add_photo_commands(commands):
    for name, run, text in (("edges", edges, "photos -> edges | photo AB pairs (train with direction AtoB)"),
                            ("gray", gray, "photos -> gray | colour AB pairs (train with direction AtoB; BtoA with "
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
    sub.set_defaults(run=split)


def _add_demo(commands):
    sub = commands.add_parser("demo", help="a small demo set from the photos bundled with scikit-image",
                              description=demo.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                              epilog=f"training photos: {', '.join(demo.TRAIN_PHOTOS)}\n"
                                     f"test photos: {', '.join(demo.TEST_PHOTOS)}")
    sub.add_argument("--task", choices=tuple(demo.TASKS), default="gray2color",
                     help="gray2color (default; direction BtoA) or edges2photo (direction AtoB)")
    sub.add_argument("--size", type=int, default=128, help="side of each A and B image (default 128)")
    sub.add_argument("--train-pairs", type=int, default=200, help="training pairs (default 200)")
    sub.add_argument("--test-pairs", type=int, default=20, help="test pairs (default 20)")
    sub.add_argument("--seed", type=int, default=0, help="random seed of the crops (default 0)")
    sub.add_argument("--out", default=DEMO_OUT, help=f"output folder (default {DEMO_OUT})")
    sub.add_argument("--overwrite", action="store_true", help="rebuild even if the folder holds a set")
    sub.set_defaults(run=build_demo)


def _add_check(commands):
    sub = commands.add_parser("check", help="list every problem file of a dataset (exit code 1 when any)",
                              description="Scan an AB folder, or A and B folders, and list every unreadable, "
                                          "truncated, odd-width, mismatched, unmatched or too small image. Exit "
                                          "code 0: clean, 1: problems found, 2: usage error.")
    sub.add_argument("dir", metavar="DIR", help="AB folder, or the A folder when B_DIR is given")
    sub.add_argument("b_dir", metavar="B_DIR", nargs="?", help="B folder (pairs matched by file name)")
    sub.add_argument("--crop-size", type=_positive, help="also report images whose sides are below this size")
    sub.set_defaults(run=check)


def main(argv=None):
    """Entry point of tools/prepare_data.py and ppix2pix-prepare-data; returns the exit code."""
    args = build_parser().parse_args(argv)
    codes = []
    failed = run_cli(lambda: codes.append(args.run(args)))
    return failed or codes[0]
