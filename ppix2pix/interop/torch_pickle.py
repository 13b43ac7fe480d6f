"""Restricted unpickling of PyTorch's pickles, without PyTorch.

Only what a saved state dict needs is accepted: ``collections.OrderedDict``, ``torch.Size``, the tensor rebuild
functions of ``torch._utils`` and the typed storage classes (``torch.FloatStorage``, ``torch.cuda.FloatStorage``
...). Any other global (``os.system``, a pickled ``nn.Module`` class, ...) is refused before anything is called, so a
hostile file cannot run code.

Tensors come out of the unpickler as :class:`TensorRef` placeholders, because the legacy format stores the raw data
after the pickle; :func:`materialize` then turns them into numpy arrays once the storages can be read. The opcode
scan, the structure check and the size limits shared with the Paddle reader are in :mod:`ppix2pix.safe_loading`.
"""
import collections
import math
import pickle

import numpy as np

from ..errors import TorchFileError
from ..safe_loading import Checked, RestrictedUnpickler as SafeUnpickler, load_pickle, rebuild, short


BFLOAT16 = "bfloat16"  # numpy has no bfloat16: such storages are widened to float32 when read

# torch.<Name>Storage -> numpy type code (byte order added per file)
STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": BFLOAT16,
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "b1",
}


# The placeholders below are immutable (named tuples without __dict__): a pickle's BUILD opcode cannot alter them.

class StorageType(collections.namedtuple("StorageType", "name")):
    """Stands in for a ``torch.<Name>Storage`` class inside a pickle."""

    __slots__ = ()

    @property
    def code(self):
        return STORAGE_DTYPES[self.name]

    def dtype(self, byteorder):
        """numpy dtype of the raw elements in a file with the given byte order ('<' or '>')."""
        return np.dtype(byteorder + ("u2" if self.code == BFLOAT16 else self.code))

    @property
    def itemsize(self):
        return self.dtype("<").itemsize


class StorageRef(collections.namedtuple("StorageRef", "key storage_type numel view")):
    """A storage named in a pickle: its key in the file, element type, element count and optional
    ``(view key, offset, size)`` (legacy format)."""

    __slots__ = ()


class TensorRef(collections.namedtuple("TensorRef", "storage offset size stride")):
    """A tensor to build from a storage: element offset, size and strides (in elements)."""

    __slots__ = ()


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """``torch._utils._rebuild_tensor`` / ``_rebuild_tensor_v2``: the extra arguments (requires_grad, hooks,
    metadata) do not matter for weights."""
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError(f"tensor rebuilt from {type(storage).__name__} instead of a storage")
    return TensorRef(storage, storage_offset, tuple(size), tuple(stride))


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    """``torch._utils._rebuild_parameter``: an ``nn.Parameter`` is just its tensor here."""
    return data


SAFE_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): Checked(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor_v2"): Checked(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): Checked(_rebuild_parameter),
    ("torch", "Size"): tuple,
}
STORAGE_MODULES = ("torch", "torch.cuda")  # tensors saved from a GPU name torch.cuda.<Name>Storage (same bytes)


class RestrictedUnpickler(SafeUnpickler):
    """Unpickler that resolves only the globals of a state dict and turns storage ids into :class:`StorageRef`."""

    allowed = SAFE_GLOBALS
    error = TorchFileError
    hint = (". If this is your own checkpoint of a whole model, re-save it in PyTorch with "
            "torch.save(net.state_dict(), path)")

    def __init__(self, file, source, storage_ref=None):
        super().__init__(file, source)
        self.storage_ref = storage_ref

    def find_class(self, module, name):
        if module in STORAGE_MODULES and name in STORAGE_DTYPES:
            return StorageType(name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if self.storage_ref is None:
            raise TorchFileError(f"{self.source}: unexpected tensor data in a header record")
        return self.storage_ref(pid)


def storage_ref_from_id(pid, source):
    """Check a storage persistent id ``('storage', type, key, location, numel[, view])`` and wrap it."""
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and isinstance(pid[1], StorageType)
            and type(pid[2]) is str and type(pid[4]) is int and pid[4] >= 0):
        raise TorchFileError(f"{source}: unsupported storage reference {short(pid)} in the pickle")
    view = pid[5] if len(pid) == 6 else None
    if view is not None and not (isinstance(view, tuple) and len(view) == 3
                                 and all(type(value) is int and value >= 0 for value in view[1:])):
        raise TorchFileError(f"{source}: malformed storage view {short(view)}")
    return StorageRef(pid[2], pid[1], pid[4], view)


def unpickle(file, source, storage_ref=None):
    """Load one pickle from ``file`` with the restrictions above."""
    return load_pickle(RestrictedUnpickler(file, source, storage_ref), file, "PyTorch pickle")


def tensor_array(ref, storage, source, budget):
    """numpy array (native byte order, contiguous) of a :class:`TensorRef` over its flat storage array.

    The geometry is checked before anything is allocated: no zero stride along a dimension longer than 1, at most
    as many elements as the storage holds, the last element inside it, and the bytes charged to ``budget``.
    """
    size, stride, offset = ref.size, ref.stride, ref.offset
    if (any(type(v) is not int or v < 0 for v in size + stride + (offset,)) or len(size) != len(stride)
            or any(n > 1 and s == 0 for n, s in zip(size, stride))):
        raise TorchFileError(f"{source}: invalid tensor geometry size={short(size)} stride={short(stride)} "
                             f"offset={short(offset)}")
    dtype = storage.dtype
    count = math.prod(size)
    if count == 0:
        return np.zeros(size, dtype.newbyteorder("="))
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if count > storage.size or last >= storage.size:
        raise TorchFileError(f"{source}: tensor of size {short(size)} needs {count} elements, up to element {last}, "
                             f"but its storage holds {storage.size} (damaged or crafted file)")
    budget.charge(count * dtype.itemsize, f"tensor of size {short(size)}")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * dtype.itemsize for s in stride], writeable=False)
    return np.array(view, dtype=dtype.newbyteorder("="), order="C")


def widen_bfloat16(raw):
    """float32 array from raw bfloat16 bits (uint16 array): bfloat16 is the top half of a float32."""
    return (raw.astype(np.uint32) << 16).view(np.float32)


def materialize(obj, read_storage, source, budget):
    """Replace every :class:`TensorRef` in the unpickled object by a numpy array (the same array where tensors are
    shared), charging ``budget`` for each.

    ``read_storage(StorageRef)`` returns the storage's flat numpy array (raw file byte order).
    """
    def convert(value):
        if not isinstance(value, TensorRef):
            return value
        array = tensor_array(value, read_storage(value.storage), source, budget)
        return widen_bfloat16(array) if value.storage.storage_type.code == BFLOAT16 else array

    return rebuild(obj, convert)
