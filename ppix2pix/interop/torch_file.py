"""Read PyTorch checkpoint files (``torch.save``) into numpy arrays without importing torch.

Two container formats exist:

* zip (torch >= 1.6): ``<name>/data.pkl`` (the pickled object; tensors point to storages by key),
  ``<name>/data/<key>`` (one raw storage each), ``<name>/byteorder`` ('little'/'big'; absent = little).
* legacy (``_use_new_zipfile_serialization=False`` and torch < 1.6): five records in one stream: the pickled magic
  number, the protocol version (1001), a sys_info dict (byte order, type sizes), the pickled object, the pickled
  list of storage keys, then for each key an int64 element count followed by the raw elements.

Unpickling is restricted (see :mod:`.torch_pickle`): a file holding anything but tensors in containers is refused.
"""
import os
import pickle
import zipfile

import numpy as np

from .torch_pickle import TorchFileError, materialize, storage_ref_from_id, unpickle

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
    except (zipfile.BadZipFile, OSError):
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
        return _read_zip(path)
    if head.startswith(LEGACY_PREFIXES):
        return _read_legacy(path)
    raise TorchFileError(f"{path}: not a PyTorch checkpoint (neither the zip format of torch >= 1.6 nor the legacy "
                         f"pickle format); files from torch < 0.1.10 (tar) are not supported")


def _read_zip(path):
    prefix = _zip_prefix(path)
    if prefix is None:
        raise TorchFileError(f"{path}: a zip file, but not a readable PyTorch checkpoint (no single <name>/data.pkl "
                             f"record, or the file is truncated or damaged)")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        byteorder_name = f"{prefix}/byteorder"
        text = archive.read(byteorder_name).decode().strip() if byteorder_name in names else "little"
        byteorder = BYTE_ORDERS.get(text)
        if byteorder is None:
            raise TorchFileError(f"{path}: unknown byte order {text!r}")
        with archive.open(f"{prefix}/data.pkl") as handle:
            obj = unpickle(handle, path, lambda pid: storage_ref_from_id(pid, path))

        cache = {}

        def read_storage(ref):
            if ref.key not in cache:
                record = f"{prefix}/data/{ref.key}"
                if record not in names:
                    raise TorchFileError(f"{path}: storage record {record} is missing (damaged file)")
                cache[ref.key] = _flat_array(archive.read(record), ref, byteorder, path)
            return cache[ref.key]

        return materialize(obj, read_storage, path)


def _flat_array(data, ref, byteorder, source):
    """The first ``ref.numel`` elements of raw storage bytes (byte order '<' or '>')."""
    dtype = ref.storage_type.dtype(byteorder)
    if len(data) < ref.numel * dtype.itemsize:
        raise TorchFileError(f"{source}: storage {ref.key} holds {len(data)} bytes, expected "
                             f"{ref.numel} x {dtype.itemsize} (truncated or damaged file)")
    return np.frombuffer(data, dtype, count=ref.numel)


def _read_legacy(path):
    with open(path, "rb") as handle:
        magic = unpickle(handle, path)
        protocol = unpickle(handle, path)
        sys_info = unpickle(handle, path)
        if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not isinstance(sys_info, dict):
            raise TorchFileError(f"{path}: unsupported legacy PyTorch format (protocol {protocol!r})")
        byteorder = "<" if sys_info.get("little_endian", True) else ">"
        roots = {}

        def remember(pid):
            ref = storage_ref_from_id(pid, path)
            known = roots.setdefault(ref.key, ref)
            if known.storage_type.name != ref.storage_type.name:
                raise TorchFileError(f"{path}: storage {ref.key} is used with two element types")
            return ref

        obj = unpickle(handle, path, remember)
        keys = unpickle(handle, path)
        if not isinstance(keys, list) or set(map(str, keys)) != set(roots):
            raise TorchFileError(f"{path}: the storage key list does not match the tensors (damaged file)")
        storages = {}
        for key in map(str, keys):
            ref = roots[key]
            count_bytes = handle.read(8)
            if len(count_bytes) != 8:
                raise TorchFileError(f"{path}: file ends before storage {key} (truncated)")
            count = int(np.frombuffer(count_bytes, byteorder + "i8")[0])
            if count != ref.numel:
                raise TorchFileError(f"{path}: storage {key} has {count} elements, the pickle says {ref.numel}")
            storages[key] = _flat_array(handle.read(count * ref.storage_type.itemsize), ref, byteorder, path)

    def read_storage(ref):
        flat = storages[ref.key]
        if ref.view is None:
            return flat
        _, offset, size = ref.view
        if offset < 0 or size < 0 or offset + size > flat.size:
            raise TorchFileError(f"{path}: storage view {ref.view} lies outside storage {ref.key}")
        return flat[offset:offset + size]

    return materialize(obj, read_storage, path)

