"""ppix2pix: pix2pix paired image-to-image translation (Isola et al., CVPR 2017) for PaddlePaddle."""
import contextlib
import io
import sys
import warnings

from .runtime import tune_cpu_runtime

tune_cpu_runtime()  # must run before Paddle loads: thread count and MKL code path

# Harmless Paddle chatter: a missing compiler cache (only matters for custom C++ ops) and a note on every
# BatchNorm forward in training mode.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")


def _import_paddle():
    """Import Paddle, dropping its OMP_NUM_THREADS banner (ppix2pix sets the thread count on purpose)."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            import paddle  # noqa: F401
    finally:
        kept = [line for line in captured.getvalue().splitlines(keepends=True)
                if "OMP_NUM_THREADS set to" not in line and "USE OMP_NUM_THREADS WISELY" not in line]
        sys.stderr.write("".join(kept))


try:
    _import_paddle()
except ImportError as error:
    raise ImportError(
        "ppix2pix needs PaddlePaddle, which is not installed in this environment. Install the build for your "
        "hardware: `pip install paddlepaddle` (CPU) or `pip install paddlepaddle-gpu` (NVIDIA GPU), "
        "or `pip install -e .[cpu]` / `pip install -e .[gpu]` from the ppix2pix checkout."
    ) from error

__version__ = "0.1.0"


def __getattr__(name):
    """``from ppix2pix import data_reader``, loaded on first use so that importing ppix2pix stays light."""
    if name == "data_reader":
        from .legacy_reader import data_reader
        return data_reader
    raise AttributeError(f"module 'ppix2pix' has no attribute {name!r}")
