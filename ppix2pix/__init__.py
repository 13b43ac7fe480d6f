"""ppix2pix: pix2pix paired image-to-image translation (Isola et al., CVPR 2017) for PaddlePaddle.

Importing ppix2pix does not import Paddle: the command lines parse their arguments (and answer --help) first. It
tunes the CPU runtime, which must happen before Paddle loads, and hooks the first ``import paddle`` that follows so
that it runs without Paddle's OMP_NUM_THREADS banner and, when Paddle is missing, says how to install it.
"""
import contextlib
import importlib.abc
import importlib.util
import io
import sys
import warnings

from .runtime import tune_cpu_runtime

tune_cpu_runtime()  # must run before Paddle loads: thread count and MKL code path

# Harmless Paddle chatter: a missing compiler cache (only matters for custom C++ ops) and a note on every
# BatchNorm forward in training mode.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")

PADDLE_MISSING = (
    "ppix2pix needs PaddlePaddle, which is not installed in this environment. Install the build for your "
    "hardware: `pip install paddlepaddle` (CPU) or `pip install paddlepaddle-gpu` (NVIDIA GPU), "
    "or `pip install -e .[cpu]` / `pip install -e .[gpu]` from the ppix2pix checkout.")


@contextlib.contextmanager
def _without_omp_banner():
    """Drop Paddle's OMP_NUM_THREADS banner from stderr (ppix2pix sets the thread count on purpose)."""
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    finally:
        kept = [line for line in captured.getvalue().splitlines(keepends=True)
                if "OMP_NUM_THREADS set to" not in line and "USE OMP_NUM_THREADS WISELY" not in line]
        sys.stderr.write("".join(kept))


class _QuietPaddleLoader(importlib.abc.Loader):
    """Runs Paddle's own loader without the banner, then hands the module back to that loader."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with _without_omp_banner():
            self.loader.exec_module(module)


class _FirstPaddleImport(importlib.abc.MetaPathFinder):
    """Meta path hook for the first ``import paddle``: quiet import, install hint when missing; then removes itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "paddle":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        except ImportError as error:
            raise ImportError(PADDLE_MISSING) from error
        if spec is None or spec.loader is None:
            raise ImportError(PADDLE_MISSING)
        spec.loader = _QuietPaddleLoader(spec.loader)
        return spec


if "paddle" not in sys.modules:
    sys.meta_path.insert(0, _FirstPaddleImport())

__version__ = "0.1.0"


def __getattr__(name):
    """``from ppix2pix import data_reader``, loaded on first use so that importing ppix2pix stays light."""
    if name == "data_reader":
        from .legacy_reader import data_reader
        return data_reader
    raise AttributeError(f"module 'ppix2pix' has no attribute {name!r}")
