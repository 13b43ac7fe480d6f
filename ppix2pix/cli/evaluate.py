"""tools/eval.py: L1 / PSNR / SSIM (and label-map scores) of generated images against their targets.

Two ways in:

* ``--outputs DIR --targets DIR``: compare finished images matched by relative path without extension (extra files
  in the output folder, such as infer.py's index_files/, are ignored; a target without an output is an error).
  ``--target-side A|B`` reads the targets as AB pair images and compares with that half.
* ``--checkpoint CKPT``: translate the test split (``dataset.test`` of the checkpoint's config, or ``--dataroot``)
  through the same preprocessing as validation during training, and compare with its targets.

Protocol: L1 is the mean absolute error on the [-1, 1] scale; PSNR (data range 255, capped at 100 dB) and SSIM
(scikit-image, 7x7 window) on 8-bit images; all averaged over images (see :mod:`ppix2pix.metrics`). Colorization
models are scored on the recombined RGB images. ``--palette cityscapes|FILE`` adds, for photo -> labels, per-pixel
accuracy, per-class accuracy and class IoU: each pixel takes the class of its nearest palette colour, ground-truth
void pixels are ignored, and the confusion matrix is accumulated over the whole set (the pix2pix paper's FCN-score
definitions).
"""
import argparse
import copy
import json
import os

import numpy as np

from ..config import apply_overrides, check_data_paths, resolve_config
from ..data.dataset import split_ab
from ..data.image_io import read_image, to_channels, to_model, to_uint8, to_unit_float, write_image
from ..data.loader import build_dataset
from ..device import select_device
from ..direction import input_and_target, input_side
from ..errors import CliError
from ..metrics import MetricAverager, SegmentationScores, cityscapes_palette, load_palette
from ..networks import TEST_MODES
from ..translator import SIZE_MODES, Translator, group_by_size
from .common import (Progress, add_override_argument, checkpoint_generator, find_images, flat_overrides,
                     run_cli)

PROTOCOL = ("l1: mean |output - target| on the [-1, 1] scale; psnr: 8-bit, data range 255, identical images capped "
            "at 100 dB; ssim: scikit-image structural_similarity on 8-bit RGB, 7x7 window; all averaged per image. "
            "Label maps: nearest palette colour per pixel, ground-truth void ignored, confusion matrix over the whole "
            "set; pixel_acc = correct / labelled pixels, class_acc = mean over ground-truth classes of per-class "
            "recall, class_iou = mean over classes present of TP / (GT + predicted - TP).")


def build_parser():
    parser = argparse.ArgumentParser(prog="tools/eval.py", description=__doc__.split("\n\n")[0],
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
    parser.add_argument("--palette", help="score label maps: 'cityscapes' or a palette file (YAML/JSON: "
                                          "classes: {name: [r, g, b]}, void: [[r, g, b], ...])")
    parser.add_argument("--json", help="where to write the results (default: metrics.json in --outputs or "
                                       "--save-dir, else <checkpoint>_eval.json)")
    return parser


class Scorer:
    """Accumulates image metrics and, with a palette, label-map scores over H x W x C images in [0, 1]."""

    def __init__(self, palette):
        self.images = MetricAverager()
        self.labels = SegmentationScores(palette) if palette else None

    def add(self, output, target, name):
        if output.shape[:2] != target.shape[:2]:
            raise CliError(f"{name}: output is {output.shape[1]}x{output.shape[0]} but the target is "
                           f"{target.shape[1]}x{target.shape[0]}; outputs must keep the target's size")
        output = to_channels(output, target.shape[2])
        self.images.add_batch(to_model(output)[None], to_model(target)[None])
        if self.labels is not None:
            self.labels.add(to_channels(to_uint8(output), 3), to_channels(to_uint8(target), 3))

    def result(self):
        result = {"count": self.images.count, "metrics": self.images.result()}
        if self.labels is not None:
            result["segmentation"] = self.labels.result()
        return result


def load_scoring_palette(spec):
    if not spec:
        return None
    if spec == "cityscapes":
        return cityscapes_palette()
    try:
        return load_palette(spec)
    except ValueError as error:
        raise CliError(str(error)) from None


def score_folders(args, scorer):
    """Score --outputs against --targets."""
    if not args.targets:
        raise CliError("--outputs needs --targets (the folder of ground-truth images)")
    for flag in ("dataroot", "save_dir", "config"):
        if getattr(args, flag):
            raise CliError(f"--{flag.replace('_', '-')} only applies with --checkpoint")
    if not os.path.isdir(args.outputs):
        raise CliError(f"--outputs folder {args.outputs!r} does not exist")
    targets = find_images(args.targets)
    outputs = {os.path.splitext(relative)[0]: path for path, relative in find_images(args.outputs)}
    missing = [relative for _, relative in targets if os.path.splitext(relative)[0] not in outputs]
    if missing:
        raise CliError(f"{len(missing)} of {len(targets)} targets have no output in {args.outputs} (matched by "
                       f"relative path without extension): {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    print(f"scoring {len(targets)} outputs in {args.outputs} against {args.targets}")
    progress = Progress(len(targets))
    for path, relative in targets:
        target = read_image(path)
        if args.target_side:
            target = split_ab(target, path)[0 if args.target_side == "A" else 1]
        output = read_image(outputs[os.path.splitext(relative)[0]])
        scorer.add(to_unit_float(output), to_unit_float(target), relative)
        progress.update(1)
    return {"outputs": args.outputs, "targets": args.targets, "target_side": args.target_side}


def test_split_config(cfg, args):
    """The checkpoint's config with --dataroot and the dataset.test overrides applied."""
    overrides = flat_overrides(args)
    if args.dataroot:
        overrides += [f"dataset.test.dataroot={args.dataroot}", "dataset.test.dataroot_a=null",
                      "dataset.test.dataroot_b=null"]
    for text in overrides:
        if not text.startswith("dataset.test."):
            raise CliError(f"-o {text}: only dataset.test.* settings can change; the network comes from the "
                           f"checkpoint")
    cfg = resolve_config(apply_overrides(copy.deepcopy(cfg), overrides), "checkpoint config with overrides")
    check_data_paths(cfg, ["test"])
    return cfg


def score_checkpoint(args, scorer):
    """Translate the test split with --checkpoint and score it."""
    if args.targets or args.target_side:
        raise CliError("--targets/--target-side apply to --outputs; with --checkpoint the targets come from the "
                       "test split")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    device = select_device(args.device or "auto")
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    cfg = test_split_config(cfg, args)
    translator = Translator.from_network(net, cfg, args.size_mode, args.test_mode, args.seed)
    dataset = build_dataset(cfg, "test", size_multiple=translator.multiple)
    direction, section = cfg["model"]["direction"], cfg["dataset"]["test"]
    side = input_side(direction)
    where = section["dataroot"] or f"{section['dataroot_a']} + {section['dataroot_b']}"
    print(f"scoring {args.checkpoint} on {len(dataset)} test pairs from {where} ({direction}, test mode "
          f"{translator.test_mode}, preprocess {section['preprocess']}, size mode {args.size_mode}, {device})")
    progress = Progress(len(dataset))
    items = (dataset[index] for index in range(len(dataset)))
    for batch in group_by_size(items, args.batch_size, lambda item: item["A"].shape[-2:]):
        inputs, targets = zip(*(input_and_target(direction, item["A"], item["B"]) for item in batch))
        outputs = translator.translate_batch(np.stack(inputs))
        for item, output, network_input, target in zip(batch, outputs, inputs, targets):
            name = os.path.basename(item[f"{side}_path"])
            image = translator.finish(output, network_input)
            scorer.add(image, translator.finish(target, network_input), name)
            if args.save_dir:
                write_image(os.path.join(args.save_dir, name), image)
        progress.update(len(batch))
    return {"checkpoint": args.checkpoint, "dataroot": where, "direction": direction,
            "test_mode": translator.test_mode, "size_mode": args.size_mode, "preprocess": section["preprocess"]}


def print_table(result):
    metrics = result["metrics"]
    print(f"{'images':<16}{result['count']}")
    print(f"{'L1':<16}{metrics['l1']:.4f}")
    print(f"{'PSNR':<16}{metrics['psnr']:.2f} dB")
    print(f"{'SSIM':<16}{metrics['ssim']:.4f}")
    segmentation = result.get("segmentation")
    if segmentation:
        print(f"{'per-pixel acc':<16}{segmentation['pixel_acc']:.4f}")
        print(f"{'per-class acc':<16}{segmentation['class_acc']:.4f}")
        print(f"{'class IoU':<16}{segmentation['class_iou']:.4f}")
        print(f"  {'class':<16}{'acc':>8}{'IoU':>8}{'pixels':>12}")
        for name, scores in segmentation["per_class"].items():
            shown = [f"{value:8.4f}" if value is not None else f"{'-':>8}" for value in (scores["acc"], scores["iou"])]
            print(f"  {name:<16}{''.join(shown)}{scores['pixels']:>12}")


def default_json_path(args):
    if args.outputs:
        return os.path.join(args.outputs, "metrics.json")
    if args.save_dir:
        return os.path.join(args.save_dir, "metrics.json")
    return os.path.splitext(args.checkpoint)[0] + "_eval.json"


def evaluate(args):
    scorer = Scorer(load_scoring_palette(args.palette))
    details = score_folders(args, scorer) if args.outputs else score_checkpoint(args, scorer)
    result = dict(details, **scorer.result(), protocol=PROTOCOL)
    if args.palette:
        result["palette"] = args.palette
    print_table(result)
    path = args.json or default_json_path(args)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {path}")


def main(argv=None):
    """Entry point of tools/eval.py and ppix2pix-eval; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_cli(evaluate, args)


if __name__ == "__main__":
    raise SystemExit(main())
