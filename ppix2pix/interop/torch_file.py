"""Read PyTorch checkpoint files (``torch.save``) into numpy arrays without importing torch.

Two container formats exist:

* zip (torch >= 1.6): ``<name>/data.pkl`` (the pickled object; tensors point to storages by key),
  ``<name>/data/<key>`` (one raw storage each), ``<name>/byteorder`` ('little'/'big'; absent = little).
* legacy (``_use_new_zipfile_serialization=False`` and torch < 1.6): five records in one stream: the pickled magic
  number, the protocol version (1001), a sys_info dict (byte order, type sizes), the pickled object, the pickled
  list of storage keys, then for each key an int64 element count followed by the raw elements.

Unpickling is restricted (see :mod:`.torch_pickle`): a file holding anything but tensors in containers is refused.
Sizes are checked before allocating: zip entries by their declared (uncompressed) size, legacy storages by the bytes
left in the file, everything against the weights limit of :mod:`ppix2pix.safe_loading`; any other error from a
damaged file becomes a :class:`TorchFileError`.
"""
import io
import os
import pickle
import zipfile

import numpy as np

from ..errors import CheckpointError, TorchFileError
from ..safe_loading import Budget, damaged, short
from .torch_pickle import materialize, storage_ref_from_id, unpickle

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# The magic number as torch pickles it (protocol 2 by default; any protocol torch accepts).
LEGACY_PREFIXES = tuple(pickle.dumps(LEGACY_MAGIC, protocol=p) for p in range(2, pickle.HIGHEST_PROTOCOL + 1))
ZIP_MAGIC = b"PK\x03\x04"
BYTE_ORDERS = {"little": "<", "big": ">"}


def _zip_prefix(path):
    """The record folder of a torch zip checkpoint (``archive``, or the file stem in older torch), else None."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except Exception:  # BadZipFile, OSError, and whatever a crafted directory makes zipfile raise
        return None
    pickles = [name[:-len("/data.pkl")] for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
    return pickles[0] if len(pickles) == 1 else None


def is_torch_file(path):
    """True when ``path`` is a PyTorch checkpoint (zip or legacy format)."""
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(ZIP_MAGIC):
        return _zip_prefix(path) is not None
    return head.startswith(LEGACY_PREFIXES)


def read_torch_file(path):
    """The object saved in a PyTorch checkpoint, with every tensor as a numpy array.

    Raises :class:`TorchFileError` (naming the file) for other files, damaged files and pickles that hold anything
    other than tensors, numbers, strings and containers.
    """
    if not os.path.isfile(path):
        raise TorchFileError(f"checkpoint {path!r} does not exist")
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(ZIP_MAGIC):
        reader = _read_zip
    elif head.startswith(LEGACY_PREFIXES):
        reader = _read_legacy
    else:
        raise TorchFileError(f"{path}: not a PyTorch checkpoint (neither the zip format of torch >= 1.6 nor the "
                             f"legacy pickle format); files from torch < 0.1.10 (tar) are not supported")
    try:
        return reader(path, Budget(path, TorchFileError))
    except CheckpointError:
        raise
    except Exception as error:  # zipfile, zlib and numpy errors of a damaged file
        raise TorchFileError(f"{path}: damaged PyTorch checkpoint ({damaged(error)})") from None


def _read_zip(path, budget):
    prefix = _zip_prefix(path)
    if prefix is None:
        raise TorchFileError(f"{path}: a zip file, but not a readable PyTorch checkpoint (no single <name>/data.pkl "
                             f"record, or the file is truncated or damaged)")
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: info for info in archive.infolist()}
        order = entries.get(f"{prefix}/byteorder")
        text = _zip_record(archive, order, min(order.file_size, 16), budget, path).decode() if order else "little"
        byteorder = BYTE_ORDERS.get(text.strip())
        if byteorder is None:
            raise TorchFileError(f"{path}: unknown byte order {text!r}")
        pickle_entry = entries[f"{prefix}/data.pkl"]
        pickled = io.BytesIO(_zip_record(archive, pickle_entry, pickle_entry.file_size, budget, path))
        obj = unpickle(pickled, path, lambda pid: storage_ref_from_id(pid, path))

        cache = {}

        def read_storage(ref):
            if ref.key not in cache:
                record = f"{prefix}/data/{ref.key}"
                if record not in entries:
                    raise TorchFileError(f"{path}: storage record {record} is missing (damaged file)")
                data = _zip_record(archive, entries[record], ref.numel * ref.storage_type.itemsize, budget, path)
                cache[ref.key] = ref, _flat_array(data, ref, byteorder)
            known, flat = cache[ref.key]
            if known.storage_type != ref.storage_type:
                raise TorchFileError(f"{path}: storage {ref.key} is used with two element types")
            return flat

        return materialize(obj, read_storage, path, budget)


def _zip_record(archive, info, nbytes, budget, source):
    """The first ``nbytes`` of a zip entry, charged to ``budget``. The entry's declared (uncompressed) size is
    checked first and no more is decompressed, so a small deflated entry cannot expand without bound."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise TorchFileError(f"{source}: record {info.filename} uses compression method {info.compress_type}; "
                             f"PyTorch writes stored records")
    if info.file_size < nbytes:
        raise TorchFileError(f"{source}: record {info.filename} holds {info.file_size} bytes, {nbytes} expected "
                             f"(truncated or damaged file)")
    budget.charge(nbytes, f"record {info.filename}")
    with archive.open(info) as handle:
        data = handle.read(nbytes)
    if len(data) < nbytes:
        raise TorchFileError(f"{source}: record {info.filename} is truncated")
    return data


def _flat_array(data, ref, byteorder):
    """The first ``ref.numel`` elements of raw storage bytes (byte order '<' or '>'), read-only."""
    return np.frombuffer(data, ref.storage_type.dtype(byteorder), count=ref.numel)


def _read_legacy(path, budget):
    """The legacy format: header pickles, the object, the storage keys, then each storage's element count and raw
    elements. The file is read into memory once, so no read can reach past its end."""
    with open(path, "rb") as handle:
        stream = io.BytesIO(handle.read())
    magic = unpickle(stream, path)
    protocol = unpickle(stream, path)
    sys_info = unpickle(stream, path)
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not isinstance(sys_info, dict):
        raise TorchFileError(f"{path}: unsupported legacy PyTorch format (protocol {short(protocol)})")
    byteorder = "<" if sys_info.get("little_endian", True) else ">"
    roots = {}

    def remember(pid):
        ref = storage_ref_from_id(pid, path)
        known = roots.setdefault(ref.key, ref)
        if known.storage_type.name != ref.storage_type.name:
            raise TorchFileError(f"{path}: storage {ref.key} is used with two element types")
        return ref

    obj = unpickle(stream, path, remember)
    keys = unpickle(stream, path)
    if not isinstance(keys, list) or set(map(str, keys)) != set(roots):
        raise TorchFileError(f"{path}: the storage key list does not match the tensors (damaged file)")
    storages = {key: _legacy_storage(stream, roots[key], byteorder, budget, path) for key in map(str, keys)}

    def read_storage(ref):
        flat = storages[ref.key]
        if ref.view is None:
            return flat
        _, offset, size = ref.view
        if offset + size > flat.size:
            raise TorchFileError(f"{path}: storage view {short(ref.view)} lies outside storage {ref.key}")
        return flat[offset:offset + size]

    return materialize(obj, read_storage, path, budget)


def _legacy_storage(stream, ref, byteorder, budget, source):
    """One legacy storage record: an int64 element count, then the elements, charged to ``budget``."""
    count_bytes = stream.read(8)
    if len(count_bytes) != 8:
        raise TorchFileError(f"{source}: file ends before storage {ref.key} (truncated)")
    count = int(np.frombuffer(count_bytes, byteorder + "i8")[0])
    if count != ref.numel:
        raise TorchFileError(f"{source}: storage {ref.key} has {count} elements, the pickle says {ref.numel}")
    nbytes = count * ref.storage_type.itemsize
    left = len(stream.getbuffer()) - stream.tell()
    if nbytes > left:
        raise TorchFileError(f"{source}: storage {ref.key} needs {nbytes} bytes, the file has {left} left "
                             f"(truncated or damaged file)")
    budget.charge(nbytes, f"storage {ref.key}")
    return _flat_array(stream.read(nbytes), ref, byteorder)
