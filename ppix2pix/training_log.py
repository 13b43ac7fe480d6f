"""Where training reports go: console and log file (python logging) and VisualDL, all at the true global step."""
import logging
import os
import sys
import time

import numpy as np

LOGGER_NAME = "ppix2pix"
FILE_ONLY = {"file_only": True}  # ``extra=`` of a record for the log file alone (the console already shows it)


def _not_file_only(record):
    return not getattr(record, "file_only", False)


def setup_logging(log_file=None, rank=0):
    """Log INFO to the console (rank 0; other ranks warnings only) and, when given, to ``log_file``."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    console = logging.StreamHandler(sys.stdout)
    console.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    console.setFormatter(formatter)
    console.addFilter(_not_file_only)
    logger.addHandler(console)
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    logger.propagate = False
    return logger


def run_separator(resume=None):
    """The line that opens each run in ``train.log``: '==== run started 2026-12-06 07:00:00, new run ===='."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"==== run started {started}, {f'resume from {resume}' if resume else 'new run'} ===="


def counted(number, noun):
    """``1 epoch``, ``3 epochs``: a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def format_duration(seconds):
    """'1h02m03s' / '2m05s' / '7s'."""
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def image_triplet(input_chw, output_chw, target_chw, to_rgb):
    """input | output | target side by side as an H x 3W x 3 uint8 image (``to_rgb`` maps a CHW side to HxWx3)."""
    sides = [to_rgb(side) for side in (input_chw, output_chw, target_chw)]
    height = max(side.shape[0] for side in sides)
    sides = [np.pad(side, ((0, height - side.shape[0]), (0, 0), (0, 0))) for side in sides]
    return np.concatenate(sides, axis=1)


class VisualDLWriter:
    """Scalars and images for VisualDL in ``logdir``, tagged by the global iteration."""

    def __init__(self, logdir):
        from visualdl import LogWriter  # imported lazily: only rank 0 writes
        self.writer = LogWriter(logdir=logdir)

    def scalars(self, values, step, prefix):
        """Write ``{name: value}`` as ``prefix/name`` at ``step``."""
        for name, value in values.items():
            self.writer.add_scalar(f"{prefix}/{name}", float(value), int(step))

    def image(self, tag, image, step):
        """Write an H x W x 3 uint8 image."""
        self.writer.add_image(tag, image, int(step))

    def close(self):
        """Flush and close the log file."""
        self.writer.close()


class SpeedMeter:
    """Iterations per second, data-loading time and ETA over the last reporting window."""

    def __init__(self):
        self.reset()

    def reset(self):
        """Start a new window."""
        self.start, self.count, self.data_time = time.perf_counter(), 0, 0.0

    def add(self, data_seconds):
        """Count one iteration that waited ``data_seconds`` for its batch."""
        self.count += 1
        self.data_time += data_seconds

    def report(self, remaining_iterations):
        """{'it/s', 'data_s' (mean per iteration), 'eta'} for the window so far."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.count / elapsed
        return {"it/s": rate, "data_s": self.data_time / max(self.count, 1),
                "eta": format_duration(remaining_iterations / rate if rate else 0)}


class EpochProgress:
    """A one-line progress bar for the current epoch on an interactive terminal (silent when output is a file)."""

    WIDTH = 30

    def __init__(self, total, label, stream=None, enabled=True):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.last = 0.0

    def update(self, done):
        """Redraw with ``done`` of ``total`` iterations finished (at most 5 times a second)."""
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and done < self.total):
            return
        self.last = now
        filled = int(self.WIDTH * done / max(self.total, 1))
        self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total}")
        if done >= self.total:
            self.stream.write("\n")
        self.stream.flush()


class CountProgress(EpochProgress):
    """An :class:`EpochProgress` bar advanced by counts (``update(count)`` adds ``count`` items done)."""

    def __init__(self, total, label, stream=None, enabled=True):
        super().__init__(total, label, stream, enabled)
        self.done = 0

    def update(self, count):
        """Add ``count`` finished items and redraw."""
        self.done += count
        super().update(self.done)
