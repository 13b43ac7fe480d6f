"""Validation during training: L1 / PSNR / SSIM on dataset.test, the history, metrics.json and the best generator.

Only rank 0 validates. Each validation appends a record (the metrics, ``epoch`` and ``iteration``) to the history,
rewrites ``output_dir/metrics.json`` with it, and saves the generator as ``best_netG.pdparams`` whenever
``validate.best_metric`` improves. The history and the best record travel in the training checkpoint.
"""
import json
import logging
import os

import numpy as np
import paddle

from .data import build_dataloader
from .data.color import side_to_image
from .data.image_io import to_uint8, write_image
from .metrics import HIGHER_IS_BETTER, MetricAverager
from .networks import generator_size_multiple
from .rng import rng_state, set_rng_state
from .training_log import image_triplet

logger = logging.getLogger("ppix2pix")

BEST_WEIGHTS = "best_netG.pdparams"


def validation_configured(cfg):
    """Whether ``cfg`` asks for validation: a test split and a non-zero ``validate.interval`` (the trainer then also
    validates at the end of training, whatever the interval)."""
    section = cfg["dataset"]["test"]
    return bool(cfg["validate"]["interval"] and (section["dataroot"] or section["dataroot_a"]))


def build_test_loader(cfg, validating, rank, check=None):
    """The dataset.test loader on rank 0 when ``validating``; None otherwise (the other ranks never validate).
    ``check`` as in :func:`~ppix2pix.data.loader.build_dataloader`."""
    if not validating:
        logger.info("validation is off (no dataset.test or validate.interval is 0)")
        return None
    if rank != 0:
        return None
    return build_dataloader(cfg, "test", size_multiple=generator_size_multiple(cfg["model"]["generator"]),
                            check=check)


def _side_to_rgb(cfg, input_chw, side_chw):
    lightness = input_chw[:1] if cfg["dataset"]["train"]["color_space"] == "lab" else None
    image = side_to_image(side_chw, lightness)
    return to_uint8(np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image)


def triplet_image(cfg, input_chw, output_chw, target_chw):
    """input | output | target of one pair as an RGB uint8 image (L*a*b* sides take their L from the input)."""
    return image_triplet(input_chw, output_chw, target_chw, lambda side: _side_to_rgb(cfg, input_chw, side))


class Validator:
    """Scores ``model`` on ``test_loader`` (None: validation off) and keeps the history and the best generator.

    ``files`` (a CheckpointFiles) writes ``best_netG.pdparams``; ``vdl`` (optional) receives the ``val/`` scalars.
    """

    def __init__(self, cfg, model, test_loader, files, vdl=None):
        self.cfg, self.model, self.test_loader, self.files, self.vdl = cfg, model, test_loader, files, vdl
        self.history, self.best = [], None

    @property
    def enabled(self):
        """Whether this process validates (validation configured, and rank 0)."""
        return self.test_loader is not None

    def state(self):
        """The history and best record, as the training checkpoint stores them."""
        return {"history": self.history, "best": self.best}

    def load_state(self, state):
        """Take the history and best record back from a training checkpoint."""
        self.history, self.best = list(state.get("history", [])), state.get("best")

    def evaluate(self, image_dir=None):
        """L1 / PSNR / SSIM of the generator on dataset.test under the configured test mode.

        Training state is untouched; with ``image_dir``, input | output | target images are written there.
        """
        cfg = self.cfg
        averager, limit = MetricAverager(), cfg["validate"]["max_images"]
        saved_rng = rng_state()
        paddle.seed(cfg["seed"])  # reproducible dropout in paper mode; training randomness restored below
        self.test_loader.set_epoch(0)
        for batch in self.test_loader:
            real_input, real_target = self.model.split_batch(batch)
            output = self.model.generate(real_input)
            averager.add_batch(output.numpy(), real_target.numpy())
            if image_dir:
                self._write_triplets(image_dir, batch["A_path"], real_input.numpy(), output.numpy(),
                                     real_target.numpy())
            if limit and averager.count >= limit:
                break
        set_rng_state(saved_rng)
        return averager.result()

    def _write_triplets(self, folder, paths, inputs, outputs, targets):
        for path, source, output, target in zip(paths, inputs, outputs, targets):
            name = os.path.splitext(os.path.basename(path))[0] + ".png"
            write_image(os.path.join(folder, name), triplet_image(self.cfg, source, output, target))

    def validate(self, epoch, iteration):
        """Evaluate after the 0-based ``epoch`` (``iteration`` steps done): log, record, save the best generator."""
        cfg = self.cfg
        image_dir = (os.path.join(cfg["output_dir"], "validation", f"epoch_{epoch + 1}")
                     if cfg["validate"]["save_img"] else None)
        metrics = self.evaluate(image_dir)
        record = dict(metrics, epoch=epoch + 1, iteration=iteration)
        self.history.append(record)
        logger.info("validation after epoch %d (%d images): L1 %.4f PSNR %.2f dB SSIM %.4f", epoch + 1,
                    metrics["count"], metrics["l1"], metrics["psnr"], metrics["ssim"])
        if self.vdl is not None:
            self.vdl.scalars({k: metrics[k] for k in ("l1", "psnr", "ssim")}, iteration, "val")
        with open(os.path.join(cfg["output_dir"], "metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(self.history, handle, indent=1)
        self._keep_if_best(record, epoch, iteration)
        return metrics

    def _keep_if_best(self, record, epoch, iteration):
        """Make ``record`` the best and save the generator when ``validate.best_metric`` improved."""
        name = self.cfg["validate"]["best_metric"]
        better = self.best is None or (record[name] > self.best[name] if HIGHER_IS_BETTER[name]
                                       else record[name] < self.best[name])
        if better:
            self.best = record
            path = self.files.save_generator(BEST_WEIGHTS, self.model.netG, self.cfg, epoch, iteration)
            logger.info("new best %s %.4f: %s", name, record[name], path)
