"""The check of a test-time mode name, shared by the eager runner (:mod:`.translator`) and the exporter.

The modes themselves (``TEST_MODES``) and how a network runs in each are :mod:`ppix2pix.models.inference_mode`'s;
this check belongs beside them and moves there when that package is next edited.
"""
from .models import TEST_MODES


def check_test_mode(mode, error=ValueError):
    """Return ``mode`` when it is a test-time mode, else raise ``error`` (a ValueError subclass) naming the modes."""
    if mode not in TEST_MODES:
        raise error(f"test-time mode must be one of {', '.join(TEST_MODES)}, got {mode!r}")
    return mode
