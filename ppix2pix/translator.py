"""Translate images of any size with a trained generator (eager) or an exported model (Paddle Inference).

The generator only takes heights and widths that are multiples of its size multiple (2**num_downs for U-Nets, 4 for
ResNets). :class:`Translator` brings any image there and back:

* ``pad`` (default): reflect-pad the image, centred, up to the next multiple, translate, crop the padding off.
  Pixels are never resampled. Pads wider than the image (tiny images) repeat the reflection.
* ``resize``: resize to the nearest multiple (the config's ``dataset.test.interpolation``, a Pillow filter as in
  training), translate, resize back.

It also converts the input's channels to what the network reads (grayscale <-> RGB) and handles colorization models
(``color_space: lab``): the network reads the L channel and predicts ab, which is recombined with the input's own L
at its original resolution.

Test-time mode: ``paper`` (dropout on, BatchNorm with the test batch's statistics, as in the paper) or ``eval``
(dropout off, running statistics); see :func:`ppix2pix.networks.inference_mode`. In paper mode the output of an image
depends on the dropout draw (fixed by ``seed``: Paddle's generator is re-seeded before every batch, so an image gets
the same output wherever it sits in a run) and, for batches of several images, on the other images of its batch.
"""
import numpy as np
import paddle

from .choices import SIZE_MODES  # noqa: F401  (re-exported)
from .data.color import rgb_to_lab, side_to_image
from .data.image_io import to_channels, to_model, to_unit_float
from .data.resample import resize
from .data.transforms import round_to_multiple
from .networks import check_test_mode, generator_size_multiple, inference_mode


def color_space(cfg):
    """'lab' for colorization configs (L in, ab out), else 'rgb'."""
    return "lab" if any(section["color_space"] == "lab" for section in cfg["dataset"].values()) else "rgb"


# Smallest side a generator gets: ResNet generators reflect-pad their quarter-size features by one pixel, which
# needs two pixels there (U-Net multiples are larger anyway).
MIN_SIDE = 8


def _round_up(size, multiple):
    return -(-size // multiple) * multiple


def padded_size(size, multiple):
    """The smallest multiple of ``multiple`` that holds ``size`` (and at least ``MIN_SIDE``)."""
    return _round_up(max(size, MIN_SIDE), multiple)


def resized_size(size, multiple):
    """The multiple of ``multiple`` nearest to ``size`` (and at least ``MIN_SIDE``)."""
    return round_to_multiple(size, multiple, MIN_SIDE)


def pad_batch(batch, multiple):
    """Reflect-pad an N x C x H x W batch, centred, to multiples of ``multiple``; returns (padded, (top, left)).

    Pads larger than the image repeat the reflection (numpy's ``reflect``), so tiny images work too.
    """
    height, width = batch.shape[-2:]
    extra_h, extra_w = padded_size(height, multiple) - height, padded_size(width, multiple) - width
    top, left = extra_h // 2, extra_w // 2
    if not extra_h and not extra_w:
        return batch, (0, 0)
    padding = ((0, 0), (0, 0), (top, extra_h - top), (left, extra_w - left))
    return np.pad(batch, padding, mode="reflect"), (top, left)


def resize_batch(batch, height, width, interpolation):
    """Resize every image of an N x C x H x W batch to ``height`` x ``width`` with a Pillow filter of
    :data:`ppix2pix.data.resample.FILTERS` (values clipped to [-1, 1])."""
    if batch.shape[-2:] == (height, width):
        return batch
    resized = [resize(image.transpose(1, 2, 0), height, width, interpolation).transpose(2, 0, 1) for image in batch]
    return np.clip(np.stack(resized), -1.0, 1.0).astype(np.float32)


class NetworkRunner:
    """Runs a generator in a test-time mode on aligned N x C x H x W float32 batches (numpy in, numpy out)."""

    def __init__(self, net, test_mode, seed=None):
        self.net, self.test_mode, self.seed = net, check_test_mode(test_mode), seed

    @paddle.no_grad()
    def __call__(self, batch):
        if self.seed is not None:
            paddle.seed(self.seed)
        with inference_mode(self.net, self.test_mode):
            return self.net(paddle.to_tensor(batch)).numpy()


class Translator:
    """Translate images of any size; ``run_batch`` maps an aligned model-range batch to the generator's output.

    Build one with :meth:`from_network`, :meth:`from_checkpoint` or :meth:`from_exported`.
    """

    def __init__(self, run_batch, cfg, size_mode="pad"):
        if size_mode not in SIZE_MODES:
            raise ValueError(f"size mode must be one of {', '.join(SIZE_MODES)}, got {size_mode!r}")
        generator = cfg["model"]["generator"]
        self.run_batch, self.cfg, self.size_mode = run_batch, cfg, size_mode
        self.multiple = generator_size_multiple(generator)
        self.input_nc, self.output_nc = generator["input_nc"], generator["output_nc"]
        self.color_space = color_space(cfg)
        self.interpolation = cfg["dataset"]["test"]["interpolation"]
        self.test_mode = getattr(run_batch, "test_mode", None)

    @classmethod
    def from_network(cls, net, cfg, size_mode="pad", test_mode=None, seed=None):
        """A translator running ``net`` eagerly; ``test_mode`` defaults to the config's ``model.test_mode``."""
        runner = NetworkRunner(net, test_mode or cfg["model"]["test_mode"], seed)
        return cls(runner, cfg, size_mode)

    @classmethod
    def from_checkpoint(cls, path, cfg=None, size_mode="pad", test_mode=None, seed=None):
        """A translator for the generator of a checkpoint (``cfg`` only for weights-only files)."""
        from .weights import load_generator
        net, cfg = load_generator(path, cfg)
        return cls.from_network(net, cfg, size_mode, test_mode, seed)

    @classmethod
    def from_exported(cls, path, size_mode="pad", **predictor_options):
        """A translator for a model written by :func:`ppix2pix.exporter.export_generator`, run by Paddle Inference.

        ``predictor_options`` go to :class:`ppix2pix.exporter.PredictorRunner` (device, onednn, threads, ...).
        """
        from .exporter import PredictorRunner, read_export_info
        info = read_export_info(path)
        return cls(PredictorRunner(info, **predictor_options), info["config"], size_mode)

    def translate_batch(self, batch):
        """N x C_in x H x W model-range batch of any H, W -> N x C_out x H x W generator output."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        height, width = batch.shape[-2:]
        if self.size_mode == "pad":
            padded, (top, left) = pad_batch(batch, self.multiple)
            return self.run_batch(padded)[:, :, top:top + height, left:left + width]
        target = resized_size(height, self.multiple), resized_size(width, self.multiple)
        output = self.run_batch(resize_batch(batch, *target, self.interpolation))
        return resize_batch(output, height, width, self.interpolation)

    def prepare(self, image):
        """H x W x C image (uint8, uint16 or float in [0, 1]) -> C_in x H x W network input in [-1, 1]."""
        image = to_unit_float(image)
        if self.color_space == "lab":
            return rgb_to_lab(to_channels(image, 3))[0]
        return to_model(to_channels(image, self.input_nc))

    def finish(self, output, network_input):
        """Generator output (C_out x H x W) -> H x W x C image in [0, 1]; Lab outputs join the input's L."""
        return side_to_image(output, network_input if self.color_space == "lab" else None)

    def translate(self, images):
        """Translate a list of same-size H x W x C images as one batch; returns H x W x C float32 images in [0, 1]."""
        shapes = {image.shape[:2] for image in images}
        if len(shapes) != 1:
            raise ValueError(f"a batch needs images of one size, got sizes {sorted(shapes)}")
        inputs = np.stack([self.prepare(image) for image in images])
        outputs = self.translate_batch(inputs)
        return [self.finish(output, network_input) for output, network_input in zip(outputs, inputs)]


def group_by_size(items, batch_size, size_of, max_pending=None):
    """Yield lists of up to ``batch_size`` items of equal ``size_of(item)``, holding at most ``max_pending`` items.

    Items of one size keep their order. When more than ``max_pending`` (default ``4 * batch_size``) items wait for
    company, the largest waiting group is released early, so memory stays bounded on folders of mixed sizes.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    max_pending = max_pending or 4 * batch_size
    pending, held = {}, 0
    for item in items:
        key = size_of(item)
        group = pending.setdefault(key, [])
        group.append(item)
        held += 1
        if len(group) == batch_size:
            held -= len(pending.pop(key))
            yield group
        elif held >= max_pending:
            largest = max(pending, key=lambda k: len(pending[k]))
            group = pending.pop(largest)
            held -= len(group)
            yield group
    yield from pending.values()
