"""Pieces shared by the CLIs: user-error handling, -o overrides, checkpoint loading, input discovery, progress.

Importing this module does not import Paddle (nor anything that does): a CLI parses its arguments first.
"""
import glob
import os
import sys
import time

from ..errors import (CheckpointError, CliError, ConfigError, DataError, DeviceError, ExportError, ImageError,
                      TilingError, TrainingError, VideoError)
from ..training_log import format_duration

USER_ERRORS = (CliError, ConfigError, CheckpointError, DataError, ImageError, VideoError, ExportError, DeviceError,
               TrainingError, TilingError, OSError)
# Problems of one input file (unreadable, corrupt, truncated, odd-width AB image): infer and eval skip the file.
BAD_INPUT_ERRORS = (ImageError, DataError)
EXIT_SOME_FAILED = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def run_cli(body, *args):
    """Call ``body(*args)``; user errors print ``error: ...`` on stderr and give exit code 2, Ctrl-C gives 130.

    The exit code is what ``body`` returns when that is an int (e.g. :data:`EXIT_SOME_FAILED`), else 0.
    """
    try:
        code = body(*args)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else 0


class BadInputs:
    """Input files a tool could not use: each is named on stderr as it is met and the run goes on; with
    ``fail_fast`` the first one stops the run instead (its error reaches :func:`run_cli`: one line, exit code 2)."""

    def __init__(self, fail_fast, progress=None):
        self.fail_fast, self.progress, self.messages = fail_fast, progress, []

    def usable(self, items, use):
        """``use(item)`` for each item, leaving out (and reporting) those whose ``use`` raises a bad-input error."""
        for item in items:
            try:
                result = use(item)
            except BAD_INPUT_ERRORS as error:
                if self.fail_fast:
                    raise
                self.messages.append(str(error))
                print(f"skipped: {error}", file=sys.stderr, flush=True)
                if self.progress is not None:
                    self.progress.update(1)
                continue
            yield result

    def summary(self, done, verb):
        """Print 'N <verb>, M failed'; return the exit code: :data:`EXIT_SOME_FAILED` when any failed, else 0."""
        print(f"{done} {verb}, {len(self.messages)} failed")
        return EXIT_SOME_FAILED if self.messages else 0


def add_fail_fast_argument(parser):
    """``--fail-fast``: stop at the first unusable input instead of skipping it."""
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first unreadable or corrupt input (exit code 2) instead of reporting it, "
                             "going on with the others and exiting with code 1 at the end")


def add_override_argument(parser):
    """``-o key.sub=value [key=value ...]`` (repeatable), as in PaddleGAN's tools."""
    parser.add_argument("-o", "--opt", nargs="+", action="append", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. -o epochs=5 dataset.train.batch_size=4")


def flat_overrides(args):
    """The -o values as one list."""
    return [item for group in args.opt for item in group]


def checkpoint_generator(checkpoint, config_path=None):
    """(netG, cfg) of a checkpoint file; ``config_path`` (a training config) only for weights-only files."""
    if not os.path.isfile(checkpoint):
        hint = " (an exported model folder needs --predictor)" if os.path.isdir(checkpoint) else ""
        raise CliError(f"checkpoint {checkpoint!r} does not exist{hint}")
    from ..config import load_config
    from ..weights import load_generator
    return load_generator(checkpoint, load_config(config_path) if config_path else None)


def split_config(cfg, args, split):
    """A checkpoint's config with ``--dataroot`` (``args.dataroot``) and the ``-o dataset.<split>.*`` overrides
    applied to one dataset split; any other override is refused, since the network comes from the checkpoint."""
    from ..config import check_data_paths, resolve_with_overrides
    prefix = f"dataset.{split}."
    overrides = flat_overrides(args)
    if args.dataroot:
        overrides += [f"{prefix}dataroot={args.dataroot}", f"{prefix}dataroot_a=null", f"{prefix}dataroot_b=null",
                      f"{prefix}pair_list=null"]
    for text in overrides:
        if not text.startswith(prefix):
            raise CliError(f"-o {text}: only {prefix}* settings can change; the network comes from the checkpoint")
    cfg = resolve_with_overrides(cfg, overrides, "checkpoint config")
    check_data_paths(cfg, [split], {f"{prefix}dataroot": "--dataroot"} if args.dataroot else None)
    return cfg


def _walk_images(folder, exclude):
    from ..data.image_io import is_image_file
    exclude = os.path.realpath(exclude) if exclude else None
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if os.path.realpath(os.path.join(root, d)) != exclude)
        for name in sorted(files):
            if is_image_file(name):
                yield os.path.join(root, name)


def find_images(spec, exclude=None):
    """[(path, relative path)] for a folder (searched recursively), an image file or a glob pattern.

    Relative paths are taken from the folder, the file's folder, or the deepest folder common to the glob's matches;
    files under ``exclude`` (an output folder inside the input folder) are skipped.
    """
    from ..data.image_io import IMAGE_EXTENSIONS, is_image_file
    if os.path.isdir(spec):
        root, paths = spec, list(_walk_images(spec, exclude))
    elif os.path.isfile(spec):
        if not is_image_file(spec):
            raise CliError(f"input {spec} is not an image file (extensions: {', '.join(IMAGE_EXTENSIONS)})")
        root, paths = os.path.dirname(spec), [spec]
    elif any(char in spec for char in "*?["):
        paths = sorted(path for path in glob.glob(spec, recursive=True) if os.path.isfile(path)
                       and is_image_file(path))
        root = os.path.commonpath([os.path.dirname(os.path.abspath(p)) for p in paths]) if paths else ""
        paths = [os.path.abspath(p) for p in paths]
    else:
        raise CliError(f"input {spec!r} does not exist (give a folder, an image file or a glob pattern)")
    if not paths:
        raise CliError(f"no images found in {spec} (looked for {', '.join(IMAGE_EXTENSIONS)})")
    return [(path, os.path.relpath(path, root or ".")) for path in paths]


class Progress:
    """Prints 'done/total images, rate, ETA' at most every ``interval`` seconds and once at the end (``unit`` and
    ``rate_unit`` name what is counted: ``"frames", "fps"`` for a video)."""

    def __init__(self, total, interval=2.0, stream=None, unit="images", rate_unit="img/s"):
        self.total, self.interval, self.stream = total, interval, stream or sys.stdout
        self.unit, self.rate_unit = unit, rate_unit
        self.done, self.start, self.last = 0, time.perf_counter(), None

    def update(self, count):
        self.done += count
        now = time.perf_counter()
        if self.done < self.total and self.last is not None and now - self.last < self.interval:
            return
        first, self.last = self.last is None, now
        if first and self.done < self.total:  # no rate yet: it would be measured over microseconds
            print(f"  {self.done}/{self.total} {self.unit}", file=self.stream, flush=True)
            return
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        print(f"  {self.done}/{self.total} {self.unit}  {rate:.2f} {self.rate_unit}  "
              f"elapsed {format_duration(elapsed)}  ETA {format_duration(eta)}", file=self.stream, flush=True)
