"""Checks shared by every weights reader (Paddle and PyTorch pickles, safetensors): a file from a stranger must
neither run code nor exhaust memory nor crash the reader, only load or raise a one-line :class:`CheckpointError`.

* :class:`RestrictedUnpickler` resolves only the globals in its table: classes that build plain data and
  :class:`Checked` functions that check their arguments. A pickle naming ``os.system`` is refused before anything
  is called.
* :func:`load_pickle` scans the opcodes before unpickling: CPython's unpickler grows and zeroes its memo table up to
  any index a pickle names (10 bytes can take gigabytes) and allocates a declared byte string before reading it, so
  memo indices past the entries written so far and arguments longer than the bytes left are refused first.
* :func:`check_structure` bounds what came out: nesting depth (later code walks it recursively), no container
  holding itself, only the leaves a reader expects. :func:`rebuild` then walks such a structure, once per object.
* :class:`Budget` caps the bytes of tensor data one file may expand to: :func:`weights_limit`.

Every reader raises :class:`ppix2pix.errors.CheckpointError` (or a subclass).
"""
import os
import pickle
import pickletools
import reprlib

from .errors import CheckpointError

MAX_DEPTH = 32  # real checkpoints nest 5 levels (checkpoint -> config -> model -> generator -> value)
LIMIT_VARIABLE = "PPIX2PIX_MAX_WEIGHTS_MB"
DEFAULT_LIMIT_MB = 2048  # a unet_256 training checkpoint (both networks, Adam states) holds ~0.7 GB
CONTAINERS = (dict, list, tuple, set, frozenset)
PLAIN_LEAVES = (type(None), bool, int, float, str, bytes)
MEMO_WRITES = ("PUT", "BINPUT", "LONG_BINPUT")


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60


def short(value):
    """A bounded one-line repr of anything a pickle produced (no recursion into deep or huge objects)."""
    return _SHORT.repr(value)


def damaged(error):
    """``TypeName: message`` of an exception raised by a damaged file, cut to one short line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:200]}"


class Checked:
    """An allowed global: a function that checks its arguments. Unlike a plain function, the pickle's BUILD opcode
    cannot set attributes (``__defaults__``...) on it: BUILD calls ``__setstate__``, which refuses."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def __call__(self, *args):
        return self.function(*args)

    def __repr__(self):
        return f"<allowed global {self.function.__name__}>"

    def __setstate__(self, state):
        raise pickle.UnpicklingError(f"BUILD applied to {self.function.__name__}")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the ``allowed`` globals and refuses persistent ids; subclasses set ``allowed``
    (``(module, name) -> class or Checked``), ``error``, ``hint`` and :meth:`is_leaf`."""

    allowed = {}
    error = CheckpointError
    hint = ""

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module, name):
        found = self.allowed.get((module, name))
        if found is None:
            raise self.error(f"{self.source}: refusing to load {short(module + '.' + name)}: the file may only "
                             f"hold weights (arrays in dicts), never other pickled objects, so it cannot run "
                             f"code{self.hint}")
        return found

    def persistent_load(self, pid):
        raise self.error(f"{self.source}: unexpected persistent id {short(pid)} in the pickle (damaged file)")

    def is_leaf(self, value):
        """Whether ``value`` may stand in the unpickled structure outside a container."""
        return type(value) in PLAIN_LEAVES


def load_pickle(unpickler, file, what="pickle"):
    """One pickle from the binary stream ``file`` through ``unpickler`` (a :class:`RestrictedUnpickler` on
    ``file``): opcodes scanned first, errors as ``unpickler.error`` naming the file, structure checked."""
    start = file.tell()
    _scan(file, unpickler.source, unpickler.error, what)
    file.seek(start)
    try:
        obj = unpickler.load()
    except CheckpointError:
        raise
    except Exception as error:  # truncated data, bad opcodes, wrong arguments, MemoryError...
        raise unpickler.error(f"{unpickler.source}: damaged {what} ({damaged(error)})") from None
    check_structure(obj, unpickler.source, unpickler.is_leaf, unpickler.error)
    return obj


def _scan(file, source, error, what):
    """Refuse what would make CPython's unpickler allocate past the file: a memo index beyond the entries written
    so far, an argument longer than the bytes left (pickletools reads it without allocating its declared size)."""
    memo = 0
    try:
        for opcode, argument, _ in pickletools.genops(file):
            if opcode.name in MEMO_WRITES:
                if argument > memo:
                    raise error(f"{source}: damaged {what} (memo index {argument} after {memo} entries)")
                memo = max(memo, argument + 1)
            elif opcode.name == "MEMOIZE":
                memo += 1
    except CheckpointError:
        raise
    except Exception as problem:  # truncated, unknown opcode, argument past the end...
        raise error(f"{source}: damaged {what} ({damaged(problem)})") from None


def _children(container):
    if isinstance(container, dict):  # dict's own methods: BUILD may have shadowed an OrderedDict's (see rebuild)
        return [*dict.keys(container), *dict.values(container)]
    return container


def check_structure(obj, source, is_leaf, error=CheckpointError, max_depth=MAX_DEPTH):
    """Refuse nesting deeper than ``max_depth``, a container holding itself and leaves ``is_leaf`` rejects.
    Iterative; each container is measured once (exact heights, so sharing cannot hide depth)."""
    heights, path, stack = {}, set(), [(obj, False)]
    while stack:
        item, leaving = stack.pop()
        if leaving:
            path.discard(id(item))
            heights[id(item)] = 1 + max((heights.get(id(child), 0) for child in _children(item)), default=0)
            if heights[id(item)] > max_depth:
                raise error(f"{source}: nested more than {max_depth} levels deep (damaged or crafted file)")
        elif isinstance(item, CONTAINERS):
            if id(item) in heights:
                continue
            if id(item) in path:
                raise error(f"{source}: a {type(item).__name__} that holds itself (damaged or crafted file)")
            path.add(id(item))
            stack.append((item, True))
            stack.extend((child, False) for child in _children(item))
        elif not is_leaf(item):
            raise error(f"{source}: unexpected {short(type(item).__name__)} {short(item)} in the file")


def rebuild(obj, convert):
    """``obj`` with dicts, lists, tuples and sets copied and every other value (named tuples included) replaced by
    ``convert(value)``. The copies drop attributes a pickle's BUILD set on an OrderedDict (PyTorch stores
    ``_metadata`` there; a crafted file could shadow its methods). Recursive: only for structures
    :func:`check_structure` passed; shared objects are converted once."""
    done = {}

    def walk(item):
        if id(item) not in done:
            if isinstance(item, dict):
                done[id(item)] = type(item)((walk(key), walk(value)) for key, value in dict.items(item))
            elif type(item) in (list, tuple, set, frozenset):
                done[id(item)] = type(item)(walk(value) for value in item)
            else:
                done[id(item)] = convert(item)
        return done[id(item)]

    return walk(obj)


def weights_limit():
    """The most bytes of tensor data a reader may allocate for one file beyond the file itself (decompressed
    storages, tensors built from them): ``PPIX2PIX_MAX_WEIGHTS_MB`` megabytes, default 2048 (a PyTorch file needs
    twice its tensor data; official pix2pix generators hold 218 MB)."""
    text = os.environ.get(LIMIT_VARIABLE, str(DEFAULT_LIMIT_MB))
    try:
        megabytes = int(text)
    except ValueError:
        megabytes = 0
    if megabytes <= 0:
        raise CheckpointError(f"{LIMIT_VARIABLE}={text!r}: expected a positive number of megabytes")
    return megabytes << 20


class Budget:
    """Bytes of tensor data one file may still expand to, charged before each allocation."""

    def __init__(self, source, error=CheckpointError):
        self.source, self.error, self.left = source, error, weights_limit()

    def charge(self, nbytes, what):
        if nbytes > self.left:
            raise self.error(f"{self.source}: {what} would take {nbytes / 2 ** 20:.1f} MB, past the "
                             f"{weights_limit() >> 20} MB limit of tensor data per file (damaged or crafted file; "
                             f"raise {LIMIT_VARIABLE} if it is genuine)")
        self.left -= nbytes
