"""Read Paddle pickle files (``paddle.save``, PaddleGAN's ``pickle.dump``) without ``paddle.load``, which unpickles
with no restriction: a crafted ``.pdparams`` would run code.

The globals real files use, found by writing them (tests/test_safe_loading.py lists them per kind of file):

* ``paddle.save`` of a nested dict (ppix2pix's checkpoints; Paddle 2.1 and later): each Tensor as
  ``builtins.tuple((name, ndarray))`` (``__builtin__.tuple`` with protocol 2), ``collections.OrderedDict`` for layer
  state dicts, ``paddle.base.libpaddle.GeneratorState`` for ``paddle.get_rng_state()``, and numpy scalars as
  ``...multiarray.scalar`` where a value is one.
* ``paddle.save`` of a flat state dict (``.pdparams``/``.pdopt``): numpy arrays; with protocol 2 or 3 bytes as
  ``_codecs.encode`` and arrays over 1 GiB split into slices listed under ``UnpackBigParamInfor@@``.
* PaddleGAN's ``pickle.dump(..., protocol=2)`` of dicts of numpy arrays (bytes as ``_codecs.encode``).
* numpy arrays as ``numpy.core.multiarray._reconstruct`` (``numpy._core`` from numpy 2 on) + ``numpy.ndarray`` +
  ``numpy.dtype``.

Each is replaced by a :class:`~ppix2pix.safe_loading.Checked` function or a placeholder that accepts only what those
files hold. Tensors come back as numpy arrays (layers' and optimizers' ``set_state_dict`` take them) and generator
states as real ``GeneratorState`` objects for ``paddle.set_rng_state``, after their fields are checked.
"""
import collections
import io
import pickle

import numpy as np
from paddle.base.libpaddle import GeneratorState

from .errors import CheckpointError
from .safe_loading import Budget, Checked, RestrictedUnpickler, damaged, load_pickle, rebuild, short

NUMERIC_KINDS = "biufc"  # bool, signed/unsigned integers, floats, complex: never objects or strings
BIG_ARRAYS = "UnpackBigParamInfor@@"  # (sic) Paddle's key for arrays split in slices
NAME_TABLE = "StructuredToParameterName@@"
PICKLE_PROTOCOLS = (b"\x80\x02", b"\x80\x03", b"\x80\x04")  # paddle.save writes 2 to 4, PaddleGAN 2
MAX_ENGINE_STATE = 1 << 16  # Paddle 3's text of an mt19937_64 state is ~6,400 bytes
_NUMPY_RECONSTRUCT = np.zeros(0).__reduce__()[0]
_NUMPY_SCALAR = np.float32(0).__reduce__()[0]
_NDARRAY = object()  # stands for numpy.ndarray: with the real class, NEWOBJ could allocate any shape


def _numeric(dtype):
    return (isinstance(dtype, np.dtype) and dtype.kind in NUMERIC_KINDS and dtype.fields is None
            and dtype.subdtype is None)


def _reconstruct(subtype, shape, typecode):
    """numpy's array reconstructor, for the empty array numpy's own pickles start from (BUILD then fills it)."""
    if subtype is not _NDARRAY or shape != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError(f"unexpected array reconstruction {short((shape, typecode))}")
    return _NUMPY_RECONSTRUCT(np.ndarray, (0,), b"b")


def _dtype(code, align=False, copy=True):
    """``numpy.dtype`` for numeric types only (an object dtype would make arrays of pickled objects), always a
    copy: BUILD then sets the byte order on it, never on numpy's shared instance."""
    dtype = np.dtype(code, align=bool(align), copy=True) if type(code) is str else None
    if not _numeric(dtype):
        raise pickle.UnpicklingError(f"array type {short(code)} is not numeric")
    return dtype


def _scalar(dtype, data):
    """A numpy scalar of a numeric type from its raw bytes."""
    if not _numeric(dtype):
        raise pickle.UnpicklingError(f"scalar of type {short(dtype)}")
    return _NUMPY_SCALAR(dtype, data)


def _paddle_tensor(pair):
    """``paddle.save`` pickles a Tensor as ``tuple((name, ndarray))``: its array."""
    if not (type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and type(pair[1]) is np.ndarray):
        raise pickle.UnpicklingError(f"tensor record {short(pair)} is not (name, array)")
    return pair[1]


def _latin1_bytes(text, encoding):
    """Protocol 2 pickles bytes as ``_codecs.encode(text, 'latin1')``."""
    if type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"unexpected _codecs.encode{short((text, encoding))}")
    return text.encode("latin1")


class GeneratorStateRecord:
    """Stands for a pickled ``GeneratorState`` until :func:`_generator_state` checks its fields (pybind's own
    ``__setstate__`` takes whatever it is given)."""

    __slots__ = ("state",)

    def __setstate__(self, state):
        if hasattr(self, "state"):
            raise pickle.UnpicklingError("generator state set twice")
        self.state = state


NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")  # numpy 1.x and 2.x names of one module
ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "tuple"): Checked(_paddle_tensor),
    ("__builtin__", "tuple"): Checked(_paddle_tensor),  # protocol 2 writes Python 2's module names
    ("_codecs", "encode"): Checked(_latin1_bytes),
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): Checked(_dtype),
    ("paddle.base.libpaddle", "GeneratorState"): GeneratorStateRecord,
    **{(module, "_reconstruct"): Checked(_reconstruct) for module in NUMPY_MODULES},
    **{(module, "scalar"): Checked(_scalar) for module in NUMPY_MODULES},
}


class PaddleUnpickler(RestrictedUnpickler):
    """Resolves the globals of Paddle checkpoints only (see the module docstring)."""

    allowed = ALLOWED
    hint = "; load weights from people you trust, or ask for a .safetensors file"

    def is_leaf(self, value):
        if isinstance(value, (np.ndarray, np.generic)):
            return _numeric(value.dtype)
        return type(value) is GeneratorStateRecord or super().is_leaf(value)


def _valid_generator_state(state):
    """``(device, seed, offset[, engine state as byte values])``: Paddle 3 writes 4 fields, Paddle 2.6 three."""
    if type(state) is not tuple or len(state) not in (3, 4) or any(type(value) is not int for value in state[:3]):
        return False
    device, seed, offset = state[:3]
    engine = state[3] if len(state) == 4 else []
    return (-1 <= device < 2 ** 31 and 0 <= seed < 2 ** 64 and 0 <= offset < 2 ** 64 and type(engine) is list
            and len(engine) <= MAX_ENGINE_STATE and all(type(b) is int and 0 <= b < 256 for b in engine))


def _generator_state(record, source):
    state = getattr(record, "state", None)
    if not _valid_generator_state(state):
        raise CheckpointError(f"{source}: malformed Paddle random generator state {short(state)}")
    restored = GeneratorState.__new__(GeneratorState)
    restored.__setstate__(state)
    return restored


def _finish(value, source):
    """Arrays in native byte order, generator states rebuilt; other leaves as they are."""
    if isinstance(value, np.ndarray) and not value.dtype.isnative:
        return value.astype(value.dtype.newbyteorder("="))
    if type(value) is GeneratorStateRecord:
        return _generator_state(value, source)
    return value


def _join_big_arrays(state, source):
    """Undo ``paddle.save``'s split of arrays over 1 GiB (protocols 2 and 3) into ``name@@.i`` slices."""
    table = state.pop(BIG_ARRAYS, None) if isinstance(state, dict) else None
    if table is None:
        return state
    budget = Budget(source)
    for key, entry in table.items():
        slices = [state.pop(name) for name in entry["slices"]]
        budget.charge(sum(part.nbytes for part in slices), f"array {short(key)}")
        state[key] = np.concatenate(slices).reshape(entry["OriginShape"])
    return state


def read_paddle_pickle(path):
    """The object in a Paddle pickle file, with numpy arrays for tensors.

    Raises :class:`CheckpointError` naming the file for anything but the plain data real checkpoints hold.
    """
    with open(path, "rb") as handle:
        stream = io.BytesIO(handle.read())
    if not stream.getvalue().startswith(PICKLE_PROTOCOLS):
        raise CheckpointError(f"{path}: not a checkpoint ppix2pix reads (neither a Paddle pickle, nor a PyTorch "
                              f"file, nor safetensors); the file may be truncated or from another program")
    obj = load_pickle(PaddleUnpickler(stream, path), stream, "Paddle pickle")
    try:
        obj = _join_big_arrays(rebuild(obj, lambda value: _finish(value, path)), path)
    except CheckpointError:
        raise
    except Exception as error:  # a slice table or generator state Paddle itself rejects
        raise CheckpointError(f"{path}: damaged Paddle pickle ({damaged(error)})") from None
    if isinstance(obj, dict):
        obj.pop(NAME_TABLE, None)
    return obj
