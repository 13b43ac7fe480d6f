"""Train pix2pix the way the official PyTorch code does, as the reference side of ``benchmarks/parity.py``.

Official-equivalent in every part that shapes learning (DESIGN.md sections 2 and 8):

* data: each AB image is opened by Pillow (``convert('RGB')``) and split in halves; both halves are resized to
  ``load_size`` x ``load_size`` with Pillow's bicubic filter, cropped at one random ``crop_size`` box and flipped
  with one coin (Python's ``random``, drawn per item as the official ``get_params`` does), scaled to [0, 1] and
  normalized with mean = std = 0.5;
* order: ``torch.utils.data.DataLoader(shuffle=True)`` reshuffles every epoch from torch's global generator;
* seeding: ``torch.manual_seed``, ``random.seed`` and ``numpy.random.seed`` with the run's seed, then the
  generator is built and initialized, then the discriminator (the official ``init_net`` order);
* the step of :func:`reference_torch.train_step_function`; constant learning rate.

Needs PyTorch and Pillow, never Paddle (run it from a separate environment)::

    TORCH_PYTHON benchmarks/reference_train.py --dataroot ../shared/data/facades/train --direction AtoB \\
        --num-downs 7 --load-size 143 --crop-size 128 --iters 1500 --seed 0 --out ref_seed0.pth

Writes the generator's state dict (official key names) to ``--out`` and the loss log to ``--out`` + ``.json``.
``--trace-eval FOLDER --trace-from N`` also records, after every iteration from ``N`` on, the eval-mode L1 of the
generator on the first ``--trace-images`` AB images of ``FOLDER`` (``eval_l1`` in the loss log), for
``benchmarks/eval_mode_trace.py``.
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_torch import NLayerDiscriminator, UnetGenerator, init_weights, train_step_function  # noqa: E402

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class AlignedDataset(torch.utils.data.Dataset):
    """The official ``AlignedDataset`` for ``--preprocess resize_and_crop`` (training: random crop and flip)."""

    def __init__(self, dataroot, load_size, crop_size, direction):
        self.paths = sorted(os.path.join(dataroot, name) for name in os.listdir(dataroot)
                            if name.lower().endswith(IMAGE_EXTENSIONS))
        self.load_size, self.crop_size, self.direction = load_size, crop_size, direction

    def __len__(self):
        return len(self.paths)

    def _transform(self, image, x, y, flip):
        image = image.resize((self.load_size, self.load_size), Image.BICUBIC)
        image = image.crop((x, y, x + self.crop_size, y + self.crop_size))
        if flip:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return torch.from_numpy((array - 0.5) / 0.5)

    def __getitem__(self, index):
        pair = Image.open(self.paths[index]).convert("RGB")
        width, height = pair.size
        half = width // 2
        side_a, side_b = pair.crop((0, 0, half, height)), pair.crop((half, 0, width, height))
        span = max(0, self.load_size - self.crop_size)
        x, y = random.randint(0, span), random.randint(0, span)
        flip = random.random() > 0.5
        a, b = self._transform(side_a, x, y, flip), self._transform(side_b, x, y, flip)
        return (a, b) if self.direction == "AtoB" else (b, a)


def trace_pairs(folder, count, crop_size, direction):
    """(inputs, targets) N x 3 x crop x crop tensors of the first ``count`` AB images of ``folder`` (Pillow bicubic
    to ``crop_size``, as ``benchmarks/parity.py`` scores them)."""
    dataset = AlignedDataset(folder, crop_size, crop_size, direction)
    random_state = random.getstate()  # the held-out images draw no jitter; the training stream keeps its state
    pairs = [dataset[index] for index in range(min(count, len(dataset)))]
    random.setstate(random_state)
    return torch.stack([pair[0] for pair in pairs]), torch.stack([pair[1] for pair in pairs])


def eval_mode_l1(generator, pairs):
    """Mean |G(input) - target| with dropout off and BatchNorm on its running statistics; G goes back to training."""
    generator.eval()
    with torch.no_grad():
        error = float((generator(pairs[0]) - pairs[1]).abs().mean())
    generator.train()
    return error


def train(args):
    """Train for ``args.iters`` iterations; returns the per-iteration loss records."""
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    generator = init_weights(UnetGenerator(num_downs=args.num_downs, use_dropout=True))
    discriminator = init_weights(NLayerDiscriminator(n_layers=3))
    dataset = AlignedDataset(args.dataroot, args.load_size, args.crop_size, args.direction)
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, shuffle=True, num_workers=0)
    step = train_step_function(generator, discriminator, lr=args.lr)
    generator.train()
    discriminator.train()
    traced = trace_pairs(args.trace_eval, args.trace_images, args.crop_size, args.direction) if args.trace_eval else None
    records, iteration, start = [], 0, time.perf_counter()
    while iteration < args.iters:
        for real_input, real_target in loader:
            records.append(step(real_input, real_target))
            iteration += 1
            if traced is not None and iteration >= args.trace_from:
                records[-1]["eval_l1"] = eval_mode_l1(generator, traced)
            if iteration % 100 == 0:
                means = {key: np.mean([r[key] for r in records[-100:] if key in r]) for key in records[-1]}
                print(f"reference seed {args.seed} iter {iteration}/{args.iters} "
                      + " ".join(f"{k} {v:.4f}" for k, v in means.items())
                      + f" | {iteration / (time.perf_counter() - start):.2f} it/s", flush=True)
            if iteration >= args.iters:
                break
    return generator, records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataroot", required=True, help="folder of AB images")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), required=True)
    parser.add_argument("--num-downs", type=int, default=7)
    parser.add_argument("--load-size", type=int, default=143)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True, help="where the generator's state dict (.pth) goes")
    parser.add_argument("--trace-eval", help="folder of held-out AB images whose eval-mode L1 is traced")
    parser.add_argument("--trace-images", type=int, default=25, help="how many of them (the first, sorted)")
    parser.add_argument("--trace-from", type=int, default=1, help="first traced iteration")
    args = parser.parse_args(argv)
    generator, records = train(args)
    torch.save(generator.state_dict(), args.out)
    with open(args.out + ".json", "w", encoding="utf-8") as handle:
        json.dump(records, handle)


if __name__ == "__main__":
    main()
