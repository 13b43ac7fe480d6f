"""The work of tools/prepare_data.py (ppix2pix/cli/prepare_data.py parses its arguments first)."""
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
from .common import Progress, find_images


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
    if os.path.normpath(args.out) != demo.DEFAULT_FOLDERS[args.task]:
        overrides += [f"dataset.train.dataroot={os.path.join(args.out, 'train')}",
                      f"dataset.test.dataroot={os.path.join(args.out, 'test')}"]
    return f"python tools/train.py -c {demo.CONFIGS[args.task]}" + (" -o " + " ".join(overrides) if overrides else "")


def build_demo(args):
    """The built-in demo set from scikit-image's bundled photos."""
    args.out = args.out or demo.DEFAULT_FOLDERS[args.task]
    parameters = demo.demo_parameters(args.task, args.size, args.train_pairs, args.test_pairs, args.seed)
    if not args.overwrite and demo.existing_demo(args.out, parameters):
        print(f"the demo set is already in {args.out} (same parameters); nothing to do (--overwrite rebuilds it)")
        print(f"next: {_next_command(args)}")
        return 0
    splits = {"train": args.train_pairs, "test": args.test_pairs}
    with staged_folder(args.out, overwrite=True) as staging:
        for offset, (name, count) in enumerate(splits.items()):
            print(f"{name}: {count} images of {args.size}x{args.size} from {', '.join(demo.PHOTOS)}")
            rng = np.random.default_rng([args.seed, offset])
            folder = os.path.join(staging, name)
            _write_all(demo.demo_pairs(args.task, name, args.size, count, rng), folder, count)
        with open(os.path.join(staging, demo.MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(demo.manifest(parameters), handle, indent=2)
    print(f"wrote the {args.task} demo set to {args.out}: train/ {args.train_pairs} and test/ {args.test_pairs} "
          f"images ({demo.LAYOUTS[args.task]}; test crops come from the right {1 - demo.TRAIN_FRACTION:.0%} of each "
          f"photo, which no training crop touches)")
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
