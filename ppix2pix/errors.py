"""The user-facing errors of ppix2pix: one class per kind of problem, each message naming the file or key and what
to do. A CLI prints any of them as one ``error: ...`` line (exit code 2).

This module imports nothing from ppix2pix, so every layer (file readers, data, config, trainer, exporter, CLIs) can
raise and catch them without importing the layer that raises them.
"""


class ConfigError(ValueError):
    """A configuration problem; the message names the key and how to fix it."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what to do."""


class ArchitectureError(CheckpointError):
    """Weights that match none of the pix2pix networks."""


class TorchFileError(CheckpointError):
    """A PyTorch file that cannot be read safely or is damaged; the message names the file and the problem."""


class DataError(ValueError):
    """A dataset problem (missing or empty folder, unmatched or mismatched pairs); the message names the files."""


class ImageError(ValueError):
    """An image file that cannot be used; the message names the file."""


class VideoError(ValueError):
    """A video file that cannot be read or written; the message names the file."""


class DeviceError(ValueError):
    """The requested device is not available; the message says what to install or choose instead."""


class TrainingError(RuntimeError):
    """Training cannot go on (diverged, or resumed with an incompatible checkpoint)."""


class ExportError(ValueError):
    """An export or exported model that cannot be used; the message says what to do."""


class TilingError(ValueError):
    """Tiling options that cannot work (tile not a multiple of the generator's, overlap not below the tile, ...)."""


class CliError(Exception):
    """A user error a CLI reports as one ``error: ...`` line."""

