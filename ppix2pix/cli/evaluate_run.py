"""The work of tools/eval.py (ppix2pix/cli/evaluate.py parses its arguments first): score folders or a checkpoint."""
import json
import os

import numpy as np

from ..data.dataset import split_ab
from ..data.image_io import read_image, to_channels, to_model, to_uint8, to_unit_float, write_image
from ..data.loader import build_dataset
from ..device import select_device
from ..direction import input_and_target, input_side
from ..errors import CliError
from ..metrics import MetricAverager, SegmentationScores, named_palette
from ..translator import Translator, group_by_size
from .common import BadInputs, Progress, checkpoint_generator, find_images, split_config


class Scorer:
    """Accumulates image metrics and, with a palette, label-map scores over H x W x C images in [0, 1]."""

    def __init__(self, palette):
        self.images = MetricAverager()
        self.labels = SegmentationScores(palette) if palette else None

    def add(self, output, target, name):
        """Score one output against its target; returns that image's ``{'l1', 'psnr', 'ssim'}``."""
        if output.shape[:2] != target.shape[:2]:
            raise CliError(f"{name}: output is {output.shape[1]}x{output.shape[0]} but the target is "
                           f"{target.shape[1]}x{target.shape[0]}; outputs must keep the target's size")
        output = to_channels(output, target.shape[2])
        scores = self.images.add_batch(to_model(output)[None], to_model(target)[None])[0]
        if self.labels is not None:
            self.labels.add(to_channels(to_uint8(output), 3), to_channels(to_uint8(target), 3))
        return scores

    def result(self):
        result = {"count": self.images.count, "metrics": self.images.result()}
        if self.labels is not None:
            result["segmentation"] = self.labels.result()
        return result


def load_scoring_palette(spec):
    if not spec:
        return None
    try:
        return named_palette(spec)
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
    bad_inputs = BadInputs(args.fail_fast, progress)

    def read_pair(item):
        path, relative = item
        target = read_image(path)
        if args.target_side:
            target = split_ab(target, path)[0 if args.target_side == "A" else 1]
        return relative, read_image(outputs[os.path.splitext(relative)[0]]), target

    for relative, output, target in bad_inputs.usable(targets, read_pair):
        scorer.add(to_unit_float(output), to_unit_float(target), relative)
        progress.update(1)
    return {"outputs": args.outputs, "targets": args.targets, "target_side": args.target_side}, bad_inputs


def score_checkpoint(args, scorer):
    """Translate the test split with --checkpoint and score it."""
    if args.targets or args.target_side:
        raise CliError("--targets/--target-side apply to --outputs; with --checkpoint the targets come from the "
                       "test split")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    device = select_device(args.device or "auto")
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    cfg = split_config(cfg, args, "test")
    translator = Translator.from_network(net, cfg, args.size_mode, args.test_mode, args.seed)
    dataset = build_dataset(cfg, "test", size_multiple=translator.multiple)
    direction, section = cfg["model"]["direction"], cfg["dataset"]["test"]
    side = input_side(direction)
    where = section["dataroot"] or f"{section['dataroot_a']} + {section['dataroot_b']}"
    print(f"scoring {args.checkpoint} on {len(dataset)} test pairs from {where} ({direction}, test mode "
          f"{translator.test_mode}, preprocess {section['preprocess']}, size mode {args.size_mode}, {device})")
    progress = Progress(len(dataset))
    bad_inputs = BadInputs(args.fail_fast, progress)
    items = bad_inputs.usable(range(len(dataset)), dataset.__getitem__)
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
            "test_mode": translator.test_mode, "size_mode": args.size_mode, "preprocess": section["preprocess"]}, \
        bad_inputs


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


def evaluate(args, protocol):
    scorer = Scorer(load_scoring_palette(args.palette))
    details, bad_inputs = score_folders(args, scorer) if args.outputs else score_checkpoint(args, scorer)
    if not scorer.images.count:
        return bad_inputs.summary(0, "scored")
    result = dict(details, **scorer.result(), protocol=protocol)
    if bad_inputs.messages:
        result["failed"] = bad_inputs.messages
    if args.palette:
        result["palette"] = args.palette
    print_table(result)
    path = args.json or default_json_path(args)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {path}")
    return bad_inputs.summary(scorer.images.count, "scored")
