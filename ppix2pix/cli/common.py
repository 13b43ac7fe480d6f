"""Shared CLI plumbing: the user-error types every tool reports as one line, and the exit codes."""
import sys

from ..checkpoint import CheckpointError
from ..config import ConfigError
from ..data import DataError, ImageError

USER_ERRORS = (ConfigError, DataError, ImageError, CheckpointError, FileNotFoundError)
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def report_error(error):
    """Print ``error: <message>`` to stderr and return the user-error exit code."""
    print(f"error: {error}", file=sys.stderr)
    return EXIT_USER_ERROR


def add_override_argument(parser):
    """``-o key.sub=value [key=value ...]`` (repeatable), as in PaddleGAN's tools."""
    parser.add_argument("-o", "--opt", nargs="+", action="append", default=[], metavar="KEY=VALUE",
                        help="override config keys, e.g. -o epochs=5 dataset.train.batch_size=4")


def flat_overrides(args):
    """The -o values as one list."""
    return [item for group in args.opt for item in group]
