"""The files a training run keeps in ``output_dir``: numbered checkpoints, ``latest``, and generator weights.

``checkpoints/<name>.pdparams`` are full training checkpoints (``iter_N`` or ``epoch_N``); ``latest.pdparams`` is
the same file as the newest one (a hard link, or a synced copy where links are unsupported), so ``--resume auto``
finds it; only the newest ``snapshot_config.keep_last`` numbered ones are kept. With
``snapshot_config.weights_only`` the numbered ones hold only the networks' weights (no optimizer moments, not
resumable) and ``latest`` is written as a full checkpoint of its own. Weights-only generator files
(``netG.pdparams``, ``best_netG.pdparams``) sit in ``output_dir`` itself. Every write is atomic and durable.
"""
import glob
import logging
import os

from .checkpoint import save_checkpoint
from .config import checkpoint_config
from .durable import copy_synced, sync_folder
from .errors import CheckpointError
from .weights import load_checkpoint

logger = logging.getLogger("ppix2pix")

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest.pdparams"
TRAINING_KEYS = ("netG", "netD", "optimG", "optimD", "epoch", "iteration", "config", "rng")
WEIGHTS_KEYS = ("netG", "netD", "epoch", "iteration", "config")  # a weights-only snapshot


class CheckpointFiles:
    """Save, prune and find the checkpoints of the run in ``output_dir`` (keeping ``keep_last`` numbered ones)."""

    def __init__(self, output_dir, keep_last, weights_only=False):
        self.output_dir = output_dir
        self.folder = os.path.join(output_dir, CHECKPOINT_DIR)
        self.latest = os.path.join(self.folder, LATEST)
        self.keep_last, self.weights_only = keep_last, weights_only

    def make_folder(self):
        """Create ``output_dir/checkpoints`` (and ``output_dir``) if missing."""
        os.makedirs(self.folder, exist_ok=True)

    def save(self, state, name):
        """Write ``checkpoints/<name>.pdparams`` and ``latest`` (the same file, unless the numbered one is weights
        only), prune old ones; returns the path."""
        path = os.path.join(self.folder, f"{name}.pdparams")
        if self.weights_only:
            save_checkpoint({key: state[key] for key in WEIGHTS_KEYS}, path)
            save_checkpoint(state, self.latest)
        else:
            save_checkpoint(state, path)
            _link_or_copy(path, self.latest)
        self.prune()
        logger.info("checkpoint saved: %s", path)
        return path

    def prune(self):
        """Delete all but the newest ``keep_last`` numbered checkpoints (all are kept when it is 0 or null)."""
        numbered = sorted(glob.glob(os.path.join(self.folder, "*_[0-9]*.pdparams")), key=os.path.getmtime)
        for old in numbered[:-self.keep_last or None]:
            os.remove(old)

    def save_generator(self, filename, net, cfg, epoch, iteration):
        """Write the weights of ``net`` + config (for inference, no optimizer state) as ``output_dir/<filename>``."""
        path = os.path.join(self.output_dir, filename)
        save_checkpoint({"netG": net.state_dict(), "config": cfg, "epoch": epoch, "iteration": iteration}, path)
        return path

    def load_resume_state(self, resume, cfg):
        """The checkpoint to resume ``cfg`` from: ``resume`` is a path, 'auto' (``latest``, if any) or None.

        Refuses (CheckpointError) a file that is not a full training checkpoint or holds another architecture, so a
        resume never silently starts from mismatched weights.
        """
        if not resume:
            return None
        path = self.latest if resume == "auto" else resume
        if resume == "auto" and not os.path.isfile(path):
            logger.info("resume auto: no checkpoint in %s yet, starting from scratch", self.folder)
            return None
        state = load_checkpoint(path)
        missing = [key for key in TRAINING_KEYS if key not in state]
        if missing:
            raise CheckpointError(f"{path} is not a ppix2pix training checkpoint (missing {', '.join(missing)}); "
                                  f"to start from its weights use tools/convert.py or a fresh run")
        state["config"] = checkpoint_config(state, path)  # validated: a damaged config is a one-line error
        _check_architecture(path, state["config"], cfg)
        logger.info("resuming from %s (epoch %d, iteration %d)", path, state["epoch"], state["iteration"])
        return state


def _architecture(cfg):
    model = cfg["model"]
    return {"generator": model["generator"], "discriminator": model["discriminator"],
            "direction": model["direction"]}


def _check_architecture(path, saved_cfg, cfg):
    """Raise CheckpointError naming every model setting in which the checkpoint at ``path`` differs from ``cfg``."""
    saved, current = _architecture(saved_cfg), _architecture(cfg)
    if saved == current:
        return
    differences = [f"model.{section}.{key}: checkpoint {saved[section].get(key)!r} vs config "
                   f"{current[section].get(key)!r}"
                   for section in ("generator", "discriminator")
                   for key in sorted(set(saved[section]) | set(current[section]))
                   if saved[section].get(key) != current[section].get(key)]
    if saved["direction"] != current["direction"]:
        differences.append(f"model.direction: checkpoint {saved['direction']} vs config "
                           f"{current['direction']}")
    raise CheckpointError(f"{path} was trained with another model than this config: "
                          + "; ".join(differences) + ". Use the config saved beside the checkpoint "
                          f"(config.yaml) or start a new output_dir")


def _link_or_copy(source, destination):
    """Make ``destination`` the same file as ``source`` (hard link, or synced copy where links are unsupported),
    replacing it atomically and durably; a failure leaves the old ``destination`` and no temporary behind."""
    temporary = destination + ".tmp"
    try:
        if os.path.lexists(temporary):
            os.remove(temporary)
        try:
            os.link(source, temporary)
        except OSError:
            copy_synced(source, temporary)
        os.replace(temporary, destination)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)
    sync_folder(os.path.dirname(os.path.abspath(destination)))
