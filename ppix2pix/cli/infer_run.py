"""The work of tools/infer.py (ppix2pix/cli/infer.py parses its arguments first): translate, write, index."""
import json
import os

import numpy as np

from ..data.dataset import split_ab
from ..data.image_io import read_image, to_channels, to_unit_float, write_image
from ..device import select_device
from ..direction import input_and_target, input_side
from ..errors import CliError
from ..tiling import TiledTranslator
from ..translator import Translator, group_by_size
from .ab_reading import decide_pairs
from .common import BadInputs, Progress, checkpoint_generator, find_images
from .evaluate import PROTOCOL
from .evaluate_run import Scorer
from .html_index import display_image, page_count, page_file, thumbnail_path, write_index, write_thumbnail

SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")
SIDE_BY_SIDE_FOLDER = "side_by_side"
METRICS_FILE = "metrics.json"
SPLIT_FOLDERS = ("train", "val", "test")


def load_translator(args, device):
    """The Translator for the arguments: an eager checkpoint or an exported model through the predictor."""
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.predictor:
        if args.config:
            raise CliError("--config is for weights-only checkpoints; an exported model carries its config")
        translator = Translator.from_exported(args.checkpoint, args.size_mode, device=device)
        if args.test_mode and args.test_mode != translator.test_mode:
            raise CliError(f"{args.checkpoint} was exported in {translator.test_mode} mode; re-export it with "
                           f"tools/export.py --test-mode {args.test_mode}")
        return translator
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    return Translator.from_network(net, cfg, args.size_mode, args.test_mode, args.seed)


def tiled(args, translator):
    """The translator that tiles large images as the --tile options say."""
    return TiledTranslator(translator, args.tile, args.tile_overlap, args.max_pixels, args.tile_statistics,
                           batch_size=args.batch_size)


def describe_tiling(tiler, args):
    """The summary's line on tiling (None when tiling is off)."""
    if not tiler.tile or not (tiler.explicit or tiler.max_pixels):
        return None
    when = (f"images larger than {tiler.tile}x{tiler.tile}" if tiler.explicit
            else f"images over {tiler.max_pixels:,} pixels")
    line = f"tiling: {when} go through in {tiler.tile}x{tiler.tile} tiles overlapping by {tiler.overlap} px"
    normalization = tiler.normalization()
    if normalization == "image":
        return line + " (norm statistics of the whole image, pooled in a first pass over the tiles)"
    if normalization == "tile":
        why = "an exported model cannot share them" if args.predictor else "--tile-statistics tile"
        return line + f", each normalized with its own statistics ({why})"
    return line


def read_record(path, relative, pairs, direction):
    """{'path', 'relative', 'input', 'target'} for one file; AB images are split by the direction."""
    image = read_image(path)
    if pairs:
        side_a, side_b = split_ab(image, path)
        source, target = input_and_target(direction, side_a, side_b)
    else:
        source, target = image, None
    return {"path": path, "relative": relative, "input": source, "target": target}


def save_output(path, image, like):
    """Write an H x W x C [0, 1] result; 16-bit inputs give 16-bit PNG/TIFF outputs."""
    if like.dtype == np.uint16 and path.lower().endswith(SIXTEEN_BIT_EXTENSIONS):
        image = (np.clip(image, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    write_image(path, image)


def describe(translator, args, pairs, reason, direction, count, device):
    generator = translator.cfg["model"]["generator"]
    if translator.color_space == "lab":
        kind = "colour images (colorization: L in, ab out)"
    elif pairs:
        kind = f"AB pairs, input = {'left' if input_side(direction) == 'A' else 'right'} half ({direction})"
    else:
        kind = "plain images"
    mode = translator.test_mode
    if mode == "paper":
        mode += " (dropout random per run)" if args.predictor else f" (seed {args.seed})"
    print(f"{count} images from {args.input}: {kind}")
    print(f"generator {generator['name']} {generator['input_nc']}->{generator['output_nc']} channels, size multiple "
          f"{translator.multiple}, test mode {mode}, size mode {args.size_mode}, batch {args.batch_size}, "
          f"{'predictor' if args.predictor else 'eager'} on {device}")
    if translator.color_space != "lab":
        print(f"  {reason}")
    tiling = describe_tiling(translator, args)
    if tiling:
        print(f"  {tiling}")
    if translator.test_mode == "paper" and args.batch_size > 1:
        print("  note: paper mode normalizes with each batch's statistics, so with --batch-size > 1 an output "
              "depends on the other images in its batch (the paper used batch 1)")


def written_paths(items, output_dir, columns, side_by_side):
    """Every file infer writes: per input its output, side-by-side strip and thumbnails, and the index page."""
    for _, relative in items:
        yield os.path.join(output_dir, relative)
        if side_by_side:
            yield os.path.join(output_dir, SIDE_BY_SIDE_FOLDER, relative)
        for role in columns:
            yield os.path.join(output_dir, thumbnail_path(relative, role))
    for number in range(1, page_count(len(items)) + 1):
        yield os.path.join(output_dir, page_file(number))
    yield os.path.join(output_dir, METRICS_FILE)


def check_no_overwrite(items, output_dir, columns, side_by_side):
    """Refuse to run when a file infer writes would replace one of its inputs (outputs keep the input names)."""
    inputs = {os.path.realpath(path): path for path, _ in items}
    for written in written_paths(items, output_dir, columns, side_by_side):
        source = inputs.get(os.path.realpath(written))
        if source is not None:
            raise CliError(f"--output {output_dir} would overwrite the input {source} (writing {written}); choose "
                           f"another output folder")


def infer(args):
    items = find_images(args.input, exclude=args.output)
    device = select_device(args.device or "auto")
    translator = tiled(args, load_translator(args, device))
    direction = translator.cfg["model"]["direction"]
    pairs, reason = decide_pairs(args, translator, items)
    columns = ["input", "output"] + (["target"] if pairs or translator.color_space == "lab" else [])
    check_no_overwrite(items, args.output, columns, args.side_by_side)
    describe(translator, args, pairs, reason, direction, len(items), device)
    progress = Progress(len(items))
    bad_inputs = BadInputs(args.fail_fast, progress)
    records = bad_inputs.usable(items, lambda item: read_record(*item, pairs, direction))
    rows, scorer = [], Scorer(None) if "target" in columns else None
    for batch in group_by_size(records, args.batch_size, lambda record: record["input"].shape[:2]):
        outputs = translator.translate([record["input"] for record in batch])
        for record, output in zip(batch, outputs):
            rows.append(write_results(args, record, output, translator.color_space, scorer))
        progress.update(len(batch))
    rows.sort(key=lambda row: row[0])
    title = args.title or default_title(translator, args.checkpoint)
    mean = write_metrics(args, title, rows, scorer)
    index = write_index(args.output, title, columns, rows, header=f"{len(rows)} images from {args.input}, "
                        f"translated by {args.checkpoint}", mean=mean)
    print(f"wrote {len(rows)} images to {args.output} (browse {index})")
    if mean:
        print(f"mean over {mean['count']} images: L1 {mean['l1']:.4f}, PSNR {mean['psnr']:.2f} dB, "
              f"SSIM {mean['ssim']:.4f} (per image in {os.path.join(args.output, METRICS_FILE)})")
    return bad_inputs.summary(len(rows), "translated")


def dataset_name(cfg):
    """The training data's folder name from a config (``data/facades/train`` -> ``facades``), or None."""
    section = cfg.get("dataset", {}).get("train") or {}
    folder = section.get("dataroot") or section.get("dataroot_a")
    if not folder:
        return None
    folder = os.path.normpath(folder)
    if section.get("dataroot_a") and not section.get("dataroot"):
        folder = os.path.dirname(folder)  # data/x/trainA -> data/x
    if os.path.basename(folder) in SPLIT_FOLDERS:
        folder = os.path.dirname(folder)
    return os.path.basename(folder) or None


def default_title(translator, checkpoint):
    """The page's one-line task description when --title is not given: what the checkpoint's config says."""
    cfg = translator.cfg
    task = ("colorization (L -> ab)" if translator.color_space == "lab"
            else cfg.get("model", {}).get("direction", "translation"))
    name = dataset_name(cfg)
    return f"{name + ' ' if name else ''}{task} with {os.path.basename(os.path.normpath(checkpoint))}"


def write_metrics(args, title, rows, scorer):
    """With targets, write OUTPUT/metrics.json (tools/eval.py's layout plus each image's scores); returns the mean
    for the page, or None without targets (or without any image)."""
    if scorer is None or not scorer.images.count:
        return None
    result = dict(scorer.result(), title=title, checkpoint=args.checkpoint, input=args.input, protocol=PROTOCOL,
                  images={name: scores for name, _, _, scores in rows})
    with open(os.path.join(args.output, METRICS_FILE), "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    return result["metrics"]


def write_results(args, record, output, color_space, scorer):
    """Save the output (and side-by-side image, thumbnails); score the written file against the target when there is
    one; return the index row."""
    relative, source = record["relative"], record["input"]
    path = os.path.join(args.output, relative)
    save_output(path, output, source)
    if color_space == "lab":  # the network saw only the lightness; the original colours are the target
        panels = {"input": to_channels(to_unit_float(source), 1), "output": output, "target": source}
    else:
        panels = {"input": source, "output": output}
        if record["target"] is not None:
            panels["target"] = record["target"]
    if args.side_by_side:
        strip = np.concatenate([display_image(panel) for panel in panels.values()], axis=1)
        write_image(os.path.join(args.output, SIDE_BY_SIDE_FOLDER, relative), strip)
    thumbnails = {role: write_thumbnail(args.output, relative, role, image) for role, image in panels.items()}
    scores = None
    if scorer is not None and "target" in panels:  # the file as written: what tools/eval.py --outputs would score
        scores = scorer.add(to_unit_float(read_image(path)), to_unit_float(panels["target"]), relative)
    return relative, thumbnails, relative, scores
