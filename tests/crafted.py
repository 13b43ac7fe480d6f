"""Hostile and hand-made weights files for the safe-loading tests: code payloads, memory bombs, and PyTorch files
written without torch (any tensor geometry, zip or legacy container).

A payload would create a marker file if it ran; the tests assert the marker never appears.
"""
import collections
import contextlib
import io
import json
import os
import pickle
import resource
import struct
import zipfile

import numpy as np

from ppix2pix.interop.torch_file import LEGACY_MAGIC, LEGACY_PROTOCOL

ADDRESS_SPACE = 2 << 30  # what a loader may use, Paddle and the CLIs included (they take ~1.3 GB of it)
STORAGE_NAMES = {np.dtype("float32"): "FloatStorage", np.dtype("float64"): "DoubleStorage",
                 np.dtype("int64"): "LongStorage"}

# A tensor over storage ``key``: element offset, size and strides, as torch.save records it; ``view`` (legacy format):
# (view key, element offset, size) of a view of that storage.
Tensor = collections.namedtuple("Tensor", "key offset size stride view", defaults=(None,))
# A storage record: torch type name, element count the pickle declares, raw bytes in the file.
Storage = collections.namedtuple("Storage", "name numel data")


class Payload:
    """Pickles as ``function(argument)``: what an unrestricted unpickler would call while loading."""

    def __init__(self, function, argument):
        self.function, self.argument = function, argument

    def __reduce__(self):
        return self.function, (self.argument,)


def payloads(marker):
    """{name: Payload} that would create ``marker``: a shell command and Python code."""
    return {"os.system": Payload(os.system, f"touch {marker}"),
            "eval": Payload(eval, f"open({str(marker)!r}, 'w').close()")}


def storage(array):
    """The :class:`Storage` holding a numpy array's elements."""
    flat = np.ascontiguousarray(array).reshape(-1)
    return Storage(STORAGE_NAMES[flat.dtype], flat.size, flat.tobytes())


def tensor_of(key, array):
    """A contiguous :class:`Tensor` over the whole storage ``key`` with ``array``'s shape."""
    strides = tuple(int(np.prod(array.shape[i + 1:])) for i in range(array.ndim))
    return Tensor(key, 0, tuple(array.shape), strides)


def _value(value):
    """Protocol-2 opcodes that push ``value`` (no PROTO, no STOP, no memo)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, 2)
    pickler.fast = True
    pickler.dump(value)
    return buffer.getvalue()[2:-1]


def _tensor(tensor, storages):
    """Opcodes of ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    record = storages[tensor.key]
    pid = (_value("storage") + b"ctorch\n" + record.name.encode() + b"\n" + _value(tensor.key) + _value("cpu")
           + _value(record.numel))
    if tensor.view is not None:
        pid += _value(tensor.view)
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + b"(" + pid + b"tQ" + _value(tensor.offset)
            + _value(tuple(tensor.size)) + _value(tuple(tensor.stride)) + _value(False)
            + b"ccollections\nOrderedDict\n)R" + b"tR")


def torch_pickle(tensors, storages):
    """The pickle of a state dict ``{name: Tensor}`` as torch.save writes it."""
    items = b"".join(_value(name) + _tensor(tensor, storages) for name, tensor in tensors.items())
    return b"\x80\x02}(" + items + b"u."


def write_torch_zip(path, tensors, storages, compression=zipfile.ZIP_STORED, pickled=None):
    """A zip-format PyTorch file; ``pickled`` replaces the state dict's pickle."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled or torch_pickle(tensors, storages))
        archive.writestr("archive/byteorder", "little")
        for key, record in storages.items():
            archive.writestr(f"archive/data/{key}", record.data, compress_type=compression)
    return str(path)


def write_torch_legacy(path, tensors, storages, pickled=None):
    """A legacy-format PyTorch file: header pickles, the object, its storage keys, then each storage's count and
    bytes."""
    parts = [pickle.dumps(value, protocol=2) for value in
             (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True})]
    parts += [pickled or torch_pickle(tensors, storages), pickle.dumps(list(storages), protocol=2)]
    parts += [struct.pack("<q", record.numel) + record.data for record in storages.values()]
    with open(path, "wb") as handle:
        handle.write(b"".join(parts))
    return str(path)


def nested_pickle(depth):
    """A protocol-2 pickle of a list nested ``depth`` levels deep (Python's own pickler would recurse)."""
    return b"\x80\x02" + b"]" * depth + b"a" * (depth - 1) + b"."


def memo_bomb():
    """10 bytes that make CPython's unpickler grow and zero a memo table of 2^28 entries (4 GiB)."""
    return b"\x80\x02N" + b"r" + (2 ** 28 - 1).to_bytes(4, "little") + b"."


def zero_stride_bomb():
    """(tensors, storages) of a 2^20 x 2^20 float tensor over one stored float: 4 TiB once copied."""
    return ({"model.model.0.weight": Tensor("0", 0, (2 ** 20, 2 ** 20), (0, 0))},
            {"0": storage(np.ones(1, np.float32))})


def write_deflate_bomb(path, declared=2 ** 32 - 2):
    """A zip .pth whose storage record declares ``declared`` bytes (4 GiB by default) in the zip directory, all of
    them wanted by the pickle, behind 1 MB of deflated zeros: the reader must refuse it before decompressing."""
    numel = declared // 4
    tensors = {"model.model.0.weight": Tensor("0", 0, (numel,), (1,))}
    storages = {"0": Storage("FloatStorage", numel, bytes(1 << 20))}
    write_torch_zip(path, tensors, storages, compression=zipfile.ZIP_DEFLATED)
    data = bytearray(open(path, "rb").read())
    entry = data.find(b"archive/data/0", data.find(b"PK\x01\x02")) - 46  # its entry in the central directory
    data[entry + 24:entry + 28] = declared.to_bytes(4, "little")
    with open(path, "wb") as handle:
        handle.write(bytes(data))
    return str(path)


def run_tools(cases_path, result_path):
    """Run each ``[tool, argv]`` listed in the JSON file ``cases_path`` through that tool's ``main`` in this process
    and write ``[{tool, argv, code, stderr}]`` to ``result_path`` (one process for a whole matrix of runs)."""
    from ppix2pix.cli import convert, evaluate, export, infer, train
    mains = {"infer": infer.main, "eval": evaluate.main, "export": export.main, "convert": convert.main,
             "train": train.main}
    with open(cases_path, encoding="utf-8") as handle:
        cases = json.load(handle)
    results = []
    for tool, argv in cases:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = mains[tool](argv)
        results.append({"tool": tool, "argv": argv, "code": code, "stderr": stderr.getvalue()})
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)


def limit_address_space():
    """``preexec_fn`` of a subprocess: allocations past :data:`ADDRESS_SPACE` fail there, so a memory bomb that
    got past the readers' limits fails its test instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
