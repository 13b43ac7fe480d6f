"""The training loop: data, model, lr schedule, logging, validation, checkpoints, exact resume, distributed.

``Trainer(cfg).train()`` runs a resolved config. Counters: ``epoch`` is the 0-based epoch in progress and
``iteration`` the number of completed training steps (the VisualDL step). A checkpoint records both, the RNG
states and the config, and the data order/augmentation are functions of (seed, epoch, index), so ``resume``
continues exactly where the run stopped, mid-epoch included.

The loop itself is here; the checkpoint files are :class:`~ppix2pix.checkpoint_files.CheckpointFiles`, validation is
:class:`~ppix2pix.validation.Validator`, the pre-flight data check :class:`~ppix2pix.preflight.DataPreflight`, and the
data-parallel and AMP set-up is in :mod:`ppix2pix.distributed`.
"""
import logging
import math
import os
import random
import signal
import time

import numpy as np

from . import build, distributed
from .checkpoint_files import CheckpointFiles
from .config import check_data_paths, save_config
from .data import build_dataloader
from .data.check import fix_hint
from .device import select_device
from .errors import DataError, ImageError, TrainingError
from .networks import generator_size_multiple
from .pix2pix import LOSS_NAMES, Pix2PixModel
from .preflight import DataPreflight
from .rng import rng_state, seed_everything, set_rng_state, training_seed
from .runtime import runtime_summary
from .training_log import (FILE_ONLY, EpochProgress, SpeedMeter, VisualDLWriter, counted, run_separator,
                           setup_logging)
from .validation import Validator, build_test_loader, triplet_image, validation_configured

logger = logging.getLogger("ppix2pix")

FINAL_WEIGHTS = "netG.pdparams"


class Trainer:
    """Train pix2pix from a resolved config; ``resume`` is a checkpoint path, 'auto' (latest in output_dir) or None.

    ``check_data`` is the pre-flight check of the train and test images (:func:`ppix2pix.data.check.check_pairs`):
    ``fast`` (headers and end markers), ``full`` (decode every file) or ``off``; bad files are handled as
    ``dataset.<split>.bad_files`` says.
    """

    def __init__(self, cfg, resume=None, check_data="fast"):
        self.cfg = cfg
        self.rank, self.world_size = distributed.init_distributed()
        self.output_dir = cfg["output_dir"]
        self.preflight = DataPreflight(check_data, self.output_dir, self.rank, self.world_size)
        self.files = CheckpointFiles(self.output_dir, cfg["snapshot_config"]["keep_last"],
                                     cfg["snapshot_config"]["weights_only"])
        validating = validation_configured(cfg)
        check_data_paths(cfg, ["train", "test"] if validating else ["train"])
        if self.rank == 0:
            self.files.make_folder()
        setup_logging(os.path.join(self.output_dir, "train.log") if self.rank == 0 else None, self.rank)
        logger.info(run_separator(resume))
        logger.info(runtime_summary())
        logger.info(build.acceleration_summary())
        self.device = select_device(cfg["device"])
        resume_state = self.files.load_resume_state(resume, cfg)
        self._choose_seed(resume_state)
        self.validating = validating
        test_loader = _logged(self._build_loaders, validating)

        seed_everything(cfg["seed"])
        self.model = Pix2PixModel(cfg, total_epochs=self.total_epochs)
        distributed.setup_data_parallel(self.model, cfg, self.device, self.world_size)
        distributed.setup_amp(self.model, cfg, self.device)

        self.epoch, self.iteration = 0, 0
        self._interrupted = False
        self._last_losses = {}
        self._saved_iteration = None
        if resume_state is not None:
            self._restore(resume_state)
        else:
            seed_everything(training_seed(cfg["seed"], self.rank))  # dropout: its own stream, one per rank
        self.vdl = VisualDLWriter(os.path.join(self.output_dir, "vdl")) if self.rank == 0 else None
        self.validator = Validator(cfg, self.model, test_loader, self.files, self.vdl)
        if resume_state is not None:
            self.validator.load_state(resume_state)
        if self.rank == 0:
            save_config(cfg, os.path.join(self.output_dir, "config.yaml"))

    @property
    def history(self):
        """The validation records so far (one dict of metrics, ``epoch`` and ``iteration`` per validation)."""
        return self.validator.history

    @property
    def best(self):
        """The best validation record so far (None before the first validation)."""
        return self.validator.best

    # ----- set-up -----
    def _choose_seed(self, resume_state):
        """The run's seed: the checkpoint's when resuming, else the config's or a random one; rank 0's wins."""
        cfg = self.cfg
        if resume_state is not None:
            cfg["seed"] = resume_state["config"]["seed"]
        elif cfg["seed"] is None:
            cfg["seed"] = random.SystemRandom().randrange(2 ** 31)
        if self.world_size > 1:
            cfg["seed"] = distributed.broadcast_object(cfg["seed"])

    def _build_loaders(self, validating):
        """Build the training loader and the run length; returns the test loader (None when not validating)."""
        cfg = self.cfg
        self.train_loader = build_dataloader(cfg, "train", self.rank, self.world_size, check=self.preflight,
                                             size_multiple=generator_size_multiple(cfg["model"]["generator"]))
        self.iters_per_epoch = len(self.train_loader)
        if self.iters_per_epoch == 0:
            raise TrainingError("the training set yields no batch: dataset.train.batch_size is larger than the "
                                "number of pairs per process")
        if cfg["total_iters"]:
            self.total_iters = cfg["total_iters"]
            self.total_epochs = math.ceil(self.total_iters / self.iters_per_epoch)
        else:
            self.total_epochs = cfg["epochs"]
            self.total_iters = self.total_epochs * self.iters_per_epoch
        return build_test_loader(cfg, validating, self.rank, check=self.preflight)

    def _restore(self, state):
        self.model.load_state_dict(state)
        self.epoch, self.iteration = int(state["epoch"]), int(state["iteration"])
        set_rng_state(state["rng"])

    # ----- the loop -----
    def train(self):
        """Run until the configured number of epochs/iterations; returns the validation history."""
        logger.info("training %s (%s x %d) from iteration %d on %s", counted(self.total_iters, "iteration"),
                    counted(self.total_epochs, "epoch"), self.iters_per_epoch, self.iteration, self.device)
        previous_handler = signal.signal(signal.SIGINT, self._on_interrupt)
        try:
            _logged(self._run_epochs)
        finally:
            signal.signal(signal.SIGINT, previous_handler)
            if self.vdl is not None:
                self.vdl.close()
        return _logged(self._finish)

    def _run_epochs(self):
        """The epochs up to the end of training or Ctrl-C; an image that went bad stops them (see
        :meth:`_stop_on_bad_image`)."""
        try:
            while self.iteration < self.total_iters and not self._interrupted:
                self._train_epoch()
                if self.iteration % self.iters_per_epoch == 0 and not self._interrupted:
                    self._end_epoch()
        except ImageError as error:
            raise self._stop_on_bad_image(error) from None

    def _stop_on_bad_image(self, error):
        """A file that became unreadable after the pre-flight check, under ``bad_files: error``: save the last
        completed iteration and return the one-line error that names the file and the fix."""
        saved = ""
        if self.iteration and self._saved_iteration != self.iteration:
            saved = f"; checkpoint {self.save_checkpoint(f'iter_{self.iteration}')}"
        section = self.cfg["dataset"]["train"]
        return DataError(f"{error}; training stopped at iteration {self.iteration}{saved}. "
                         f"{fix_hint(section, 'train').capitalize()}, then continue with --resume auto")

    def _train_epoch(self):
        """One pass over the training data (the rest of it when resumed mid-epoch): step, log, save."""
        epoch_start = self.epoch * self.iters_per_epoch
        self.train_loader.set_epoch(self.epoch, self.iteration - epoch_start)
        save_every = self.cfg["snapshot_config"]["interval_iters"]
        meter, sums = SpeedMeter(), {}
        progress = EpochProgress(self.iters_per_epoch, f"epoch {self.epoch + 1}/{self.total_epochs}",
                                 enabled=self.rank == 0)
        timer = time.perf_counter()
        for batch in self.train_loader:
            meter.add(time.perf_counter() - timer)
            real_input, real_target = self.model.split_batch(batch)  # set_input
            self._last_losses = self.model.train_step(real_input, real_target)  # optimize_parameters
            self.iteration += 1
            progress.update(self.iteration - epoch_start)
            self._log_step(self._last_losses, sums, meter, real_input, real_target)
            if _due(self.iteration, save_every):
                self.save_checkpoint(f"iter_{self.iteration}")
            if self._stop_requested() or self.iteration >= self.total_iters:
                break
            timer = time.perf_counter()

    def _end_epoch(self):
        """After a full epoch: validate when due, step the lr schedules, count the epoch, save when due."""
        cfg = self.cfg
        finished_epoch = self.epoch + 1
        metrics = None
        last = self.iteration >= self.total_iters
        if self.validator.enabled and (_due(finished_epoch, cfg["validate"]["interval"]) or last):
            metrics = self.validate()
        distributed.barrier(self.world_size)
        plateau_metric = metrics["l1"] if metrics else None
        if self.world_size > 1 and cfg["lr_scheduler"]["name"] == "ReduceOnPlateau":
            plateau_metric = distributed.broadcast_object(plateau_metric)
        self.model.step_schedulers(plateau_metric)
        self.epoch = finished_epoch
        if _due(finished_epoch, cfg["snapshot_config"]["interval"]) or last:
            self.save_checkpoint(f"epoch_{finished_epoch}")

    def _finish(self):
        """After the loop: save on Ctrl-C (and re-raise it), else keep a last checkpoint and the final generator."""
        if self._interrupted:
            path = self.save_checkpoint(f"iter_{self.iteration}")
            logger.warning("interrupted at iteration %d; checkpoint %s; continue with --resume auto",
                           self.iteration, path)
            raise KeyboardInterrupt
        if self._validate_at_end():
            self._saved_iteration = None  # the last checkpoint must hold this validation too
        if self._saved_iteration != self.iteration:  # ended mid-epoch: keep a checkpoint to extend the run from
            self.save_checkpoint(f"iter_{self.iteration}")
        if self.world_size > 1:
            self._check_ranks_in_sync()
        final = self.save_generator(FINAL_WEIGHTS)
        logger.info("training finished at iteration %d; generator weights: %s", self.iteration, final)
        return self.history

    def _validate_at_end(self):
        """Validate a run that ended mid-epoch (one that ends with an epoch validated in :meth:`_end_epoch`); returns
        whether it did, the same on every rank (only rank 0 validates)."""
        if not self.validating or self.iteration % self.iters_per_epoch == 0:
            return False
        if self.validator.enabled and not (self.history and self.history[-1]["iteration"] == self.iteration):
            self.validate()
        return True

    # ----- interruption and divergence -----
    def _on_interrupt(self, signum, frame):
        if self._interrupted:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._interrupted = True
        logger.warning("Ctrl-C: finishing this iteration, then saving a checkpoint (press again to quit at once)")

    def _stop_requested(self):
        """Whether any rank saw Ctrl-C (ranks agree, so they all stop after the same iteration)."""
        self._interrupted = distributed.any_rank(self._interrupted, self.world_size)
        return self._interrupted

    def _check_ranks_in_sync(self):
        fingerprints = distributed.gather_fingerprints(self.model.nets.values())
        if any(not np.array_equal(fingerprints[0], other) for other in fingerprints[1:]):
            raise TrainingError("the weights of the distributed processes differ; please report this as a bug")
        logger.info("weights identical on all %d ranks (fingerprint %.10e)", self.world_size,
                    float(fingerprints[0].sum()))

    def _check_finite(self, losses):
        bad = [name for name, value in losses.items() if not math.isfinite(float(value))]
        if bad:
            last_good = self.files.latest if os.path.exists(self.files.latest) else "none yet"
            raise TrainingError(f"loss {', '.join(bad)} became NaN/inf at iteration {self.iteration}; training "
                                f"stopped without saving. Last good checkpoint: {last_good}. Lower the learning "
                                f"rate, check the data for broken images, or try gan_mode lsgan")

    # ----- logging -----
    def _log_step(self, losses, sums, meter, real_input, real_target):
        """Add the step's losses to ``sums``; log their means when due (and at each epoch's end), images when due."""
        log_every, visual_every = self.cfg["log_config"]["interval"], self.cfg["log_config"]["visiual_interval"]
        for name, value in losses.items():
            sums[name] = sums[name] + value if name in sums else value
        end_of_epoch = self.iteration % self.iters_per_epoch == 0
        if _due(self.iteration, log_every) or end_of_epoch or self.iteration == self.total_iters:
            self._log_losses(sums, meter)
            sums.clear()
            meter.reset()
        if _due(self.iteration, visual_every):
            self._log_images(real_input, real_target)

    def _log_losses(self, sums, meter):
        count = meter.count
        means = {name: float(value) / count for name, value in sums.items()}
        if not all(math.isfinite(v) for v in means.values()):
            self._check_finite(means)
        speed = meter.report(self.total_iters - self.iteration)
        lr = self.model.optimizers["optimG"].get_lr()
        epoch_iter = self.iteration - self.epoch * self.iters_per_epoch
        logger.info("epoch %d/%d iter %d/%d (%d/%d in epoch) %s lr %.3g | %.2f it/s data %.3fs | ETA %s",
                    self.epoch + 1, self.total_epochs, self.iteration, self.total_iters, epoch_iter,
                    self.iters_per_epoch, " ".join(f"{n} {means[n]:.4f}" for n in LOSS_NAMES if n in means), lr,
                    speed["it/s"], speed["data_s"], speed["eta"])
        if self.vdl is not None:
            self.vdl.scalars(means, self.iteration, "train")
            self.vdl.scalars({"lr": lr, "it_per_s": speed["it/s"]}, self.iteration, "train")

    def _log_images(self, real_input, real_target):
        if self.vdl is None:
            return
        output = self.model.generate(real_input[:1]).numpy()[0]
        source, target = real_input.numpy()[0], real_target.numpy()[0]
        self.vdl.image("train/input_output_target", triplet_image(self.cfg, source, output, target), self.iteration)

    # ----- checkpoints, validation -----
    def save_checkpoint(self, name):
        """Write a full checkpoint ``checkpoints/<name>.pdparams``, point ``latest`` at it, prune old ones.

        Refuses (TrainingError) when the last losses are not finite, so the last good checkpoint stays intact.
        """
        self._check_finite(self._last_losses)
        if self.world_size > 1:  # every rank calls this: BN statistics become the mean over ranks
            distributed.average_statistics(self.model.nets.values(), self.world_size)
        self._saved_iteration = self.iteration
        if self.rank != 0:
            return None
        return self.files.save(self._checkpoint_state(), name)

    def _checkpoint_state(self):
        return dict(self.model.state_dict(), epoch=self.epoch, iteration=self.iteration, config=self.cfg,
                    rng=rng_state(), **self.validator.state())

    def save_generator(self, filename):
        """Write netG + config (weights only, for inference) into the output folder."""
        if self.rank != 0:
            return None
        return self.files.save_generator(filename, self.model.netG, self.cfg, self.epoch, self.iteration)

    def evaluate(self, image_dir=None):
        """L1 / PSNR / SSIM of the generator on dataset.test (see :meth:`Validator.evaluate`)."""
        return self.validator.evaluate(image_dir)

    def validate(self):
        """Evaluate, log, keep the result in the history and save the generator when it is the best so far."""
        return self.validator.validate(self.epoch, self.iteration)


def _logged(function, *args):
    """``function(*args)``; a user-facing error is also written to train.log (the CLI prints it on the console)."""
    try:
        return function(*args)
    except (DataError, ImageError, TrainingError) as error:
        logger.error("error: %s", error, extra=FILE_ONLY)
        raise


def _due(count, interval):
    """Whether ``count`` iterations or epochs complete an ``interval`` of them (0 or null: never)."""
    return bool(interval) and count % interval == 0
