"""2-D convolutions, (leaky) ReLUs and batch norms through oneDNN, the library Paddle's CPU wheel ships
(``paddle/libs/libdnnl.so.3``), called by ctypes.

Paddle 3.3's dynamic graph runs its own im2col + GEMM conv kernels on CPU; oneDNN is used only by the inference
predictor. oneDNN's direct convolutions (blocked layouts, JIT-compiled for the CPU at hand) are what PyTorch runs on
CPU, and run the pix2pix layers several times faster than Paddle's kernels (``benchmarks/README.md``). This module builds
oneDNN forward, backward-data and backward-weights primitives for one conv geometry, lets oneDNN choose its memory
layouts, and reorders plain NCHW Paddle tensors in and out of them. Primitives are cached per geometry.

Activations may also be channels-last: NHWC memory behind an NCHW tensor (:data:`CHANNELS_LAST`, see
:func:`memory_layout`). Convs built with ``channels_last`` read and write such tensors as they lie, and batch norm runs
on them; a network whose layers all keep that order (:func:`ppix2pix.accel.layers.use_channels_last`) moves no activation between
layouts.

Where no gradient is recorded (``paddle.no_grad()``, or neither input takes one) the primitives run directly. Where
one is, a ``PyLayer`` records them, but only inside :func:`recorded_backward`: a ``PyLayer`` cannot tell which of its
inputs a ``paddle.grad(outputs, inputs)`` call prunes (Paddle then rejects the gradients it returns) and its backward
is not differentiable again (no double backward). ppix2pix's training step, which only calls ``loss.backward()``,
opens that block; any other autograd use runs Paddle's own kernels.

Everything here runs synchronously on the calling thread (oneDNN parallelises inside with OpenMP, using the same
``OMP_NUM_THREADS`` as Paddle). :func:`available` is False where the library or one of its functions is missing; the
callers then run Paddle's own kernels.
"""
import contextlib
import ctypes
import functools
import os
import threading
from collections import namedtuple

import numpy as np
import paddle
from paddle.autograd import PyLayer

from ..networks.batch_statistics import update_running_statistics

# Values of the oneDNN 3.x C API (oneapi/dnnl/dnnl_types.h, dnnl_common_types.h).
_SUCCESS, _CPU_ENGINE, _IN_ORDER_STREAM, _F32, _FORMAT_ANY = 0, 1, 1, 3, 1
_FORWARD_TRAINING, _CONVOLUTION_DIRECT, _ELTWISE_RELU = 64, 1, 0x20
_QUERY_SRC, _QUERY_DIFF_SRC, _QUERY_WEIGHTS, _QUERY_DIFF_WEIGHTS, _QUERY_DST, _QUERY_DIFF_DST = range(129, 135)
_QUERY_SCRATCHPAD, _SCRATCHPAD_USER = 136, 1
ARG_SRC, ARG_DST, ARG_WEIGHTS, ARG_SCRATCHPAD = 1, 17, 33, 80
ARG_DIFF_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS = 129, 145, 161
_FORWARD_INFERENCE, _BACKWARD, _USE_GLOBAL_STATS, _USE_SCALE_SHIFT = 96, 128, 0x1, 0x2 | 0x4
ARG_MEAN, ARG_VARIANCE, ARG_SCALE, ARG_SHIFT, ARG_DIFF_SCALE, ARG_DIFF_SHIFT = 49, 50, 51, 52, 255, 256
ARG_MULTIPLE_SRC = 1024
_QUERY_OF = {ARG_SRC: _QUERY_SRC, ARG_DIFF_SRC: _QUERY_DIFF_SRC, ARG_WEIGHTS: _QUERY_WEIGHTS,
             ARG_DIFF_WEIGHTS: _QUERY_DIFF_WEIGHTS, ARG_DST: _QUERY_DST, ARG_DIFF_DST: _QUERY_DIFF_DST}
_MAX_DIMS = 12
_Dims = ctypes.c_int64 * _MAX_DIMS
_Handle = ctypes.c_void_p


class _ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _Handle)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int), ("hash", ctypes.c_char_p),
                ("cpu_runtime", ctypes.c_uint), ("gpu_runtime", ctypes.c_uint)]


ConvGeometry = namedtuple("ConvGeometry", "src weights dst stride dilation pad_begin pad_end")
ConvGeometry.__doc__ = """Shapes (NCHW src / dst, OIHW weights) and per-axis stride, dilation and padding of a conv.
``dilation`` is Paddle's (1 = dense); ``pad_end`` may be smaller than ``pad_begin`` when the last window is cut."""


ConvPasses = namedtuple("ConvPasses", "forward input_gradient weights_gradient transposed")
ConvPasses.__doc__ = """The :class:`_Step` computing a (transposed) conv, the one computing its input gradient, the
weight-gradient one, and whether the conv is transposed (its weight gradient takes ``(grad, x)``, not ``(x, grad)``)."""


# Memory orders of a 4-D NCHW tensor that the primitives take without a copy: Paddle's row-major order, and
# channels-last (NHWC memory behind an NCHW view, as ``x.transpose([0, 2, 3, 1])`` of an NHWC tensor).
PLAIN, CHANNELS_LAST = "plain", "channels_last"
TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]  # transpose axes between the NCHW view and NHWC memory


def layout_strides(shape, layout):
    """Element strides of a dense array of logical ``shape`` stored in ``layout`` (channels-last: 4-D only)."""
    if layout == CHANNELS_LAST:
        _, channels, height, width = shape
        return (height * width * channels, 1, width * channels, channels)
    return tuple(int(stride) for stride in np.cumprod([1] + list(shape[:0:-1]))[::-1])


def memory_layout(tensor):
    """:data:`PLAIN` or :data:`CHANNELS_LAST` when ``tensor``'s memory is dense in that order, else None."""
    shape, strides = list(tensor.shape), list(tensor.strides)
    for layout in (PLAIN, CHANNELS_LAST) if len(shape) == 4 else (PLAIN,):
        if all(size == 1 or stride == expected
               for size, stride, expected in zip(shape, strides, layout_strides(shape, layout))):
            return layout
    return None


def dense(tensor, layout=PLAIN):
    """``tensor`` when its memory is dense (either order), else a dense copy in ``layout``."""
    return tensor if memory_layout(tensor) is not None else in_layout(tensor, layout)


def in_layout(tensor, layout):
    """``tensor`` when its memory is dense in ``layout``, else a copy that is."""
    if memory_layout(tensor) == layout:
        return tensor
    if layout == CHANNELS_LAST:
        return tensor.transpose(TO_NHWC).contiguous().transpose(TO_NCHW)
    return tensor.contiguous()


def empty(shape, layout):
    """Uninitialised float32 tensor of logical ``shape`` whose memory is in ``layout``."""
    if layout == CHANNELS_LAST:
        return paddle.empty([shape[i] for i in TO_NHWC], "float32").transpose(TO_NCHW)
    return paddle.empty(list(shape), "float32")


class OneDNNError(RuntimeError):
    """A oneDNN call returned an error status."""


def _check(status, what):
    if status != _SUCCESS:
        raise OneDNNError(f"oneDNN {what} failed (status {status})")


class _Library:
    """The loaded oneDNN library with its CPU engine and stream."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        lib.dnnl_version.restype = ctypes.POINTER(_Version)
        found = lib.dnnl_version().contents
        self.version = f"{found.major}.{found.minor}.{found.patch}"
        if found.major != 3:  # the signatures and enum values below are those of the 3.x C API
            raise OneDNNError(f"oneDNN {self.version} found, 3.x needed")
        out, handle, dims, integer = ctypes.c_void_p, _Handle, _Dims, ctypes.c_int
        signatures = {  # name: (result type, argument types); every handle is passed as a pointer
            "dnnl_engine_create": (integer, [out, integer, ctypes.c_size_t]),
            "dnnl_stream_create": (integer, [out, handle, ctypes.c_uint]),
            "dnnl_stream_wait": (integer, [handle]),
            "dnnl_memory_desc_create_with_strides": (integer, [out, integer, dims, integer, dims]),
            "dnnl_memory_desc_create_with_tag": (integer, [out, integer, dims, integer, integer]),
            "dnnl_memory_desc_equal": (integer, [handle, handle]),
            "dnnl_memory_desc_get_size": (ctypes.c_size_t, [handle]),
            "dnnl_memory_create": (integer, [out, handle, handle, handle]),
            "dnnl_memory_set_data_handle": (integer, [handle, handle]),
            "dnnl_primitive_desc_query_md": (handle, [handle, integer, integer]),
            "dnnl_primitive_create": (integer, [out, handle]),
            "dnnl_primitive_execute": (integer, [handle, handle, integer, ctypes.POINTER(_ExecArg)]),
            "dnnl_memory_desc_destroy": (integer, [handle]),
            "dnnl_memory_destroy": (integer, [handle]),
            "dnnl_primitive_desc_destroy": (integer, [handle]),
            "dnnl_primitive_destroy": (integer, [handle]),
            "dnnl_primitive_attr_create": (integer, [out]),
            "dnnl_primitive_attr_set_scratchpad_mode": (integer, [handle, integer]),
            "dnnl_reorder_primitive_desc_create": (integer, [out, handle, handle, handle, handle, handle]),
            "dnnl_eltwise_forward_primitive_desc_create": (
                integer, [out, handle, integer, integer, handle, handle, ctypes.c_float, ctypes.c_float, handle]),
            "dnnl_batch_normalization_forward_primitive_desc_create": (
                integer, [out, handle, integer, handle, handle, ctypes.c_float, ctypes.c_uint, handle]),
            "dnnl_batch_normalization_backward_primitive_desc_create": (
                integer, [out, handle, integer, handle, handle, handle, ctypes.c_float, ctypes.c_uint, handle,
                          handle]),
            "dnnl_concat_primitive_desc_create": (
                integer, [out, handle, handle, integer, integer, ctypes.POINTER(handle), handle]),
            "dnnl_eltwise_backward_primitive_desc_create": (
                integer, [out, handle, integer, handle, handle, handle, ctypes.c_float, ctypes.c_float, handle,
                          handle]),
            "dnnl_convolution_forward_primitive_desc_create": (
                integer, [out, handle, integer, integer, handle, handle, handle, handle, dims, dims, dims, dims,
                          handle]),
            "dnnl_convolution_backward_data_primitive_desc_create": (
                integer, [out, handle, integer, handle, handle, handle, dims, dims, dims, dims, handle, handle]),
            "dnnl_convolution_backward_weights_primitive_desc_create": (
                integer, [out, handle, integer, handle, handle, handle, handle, dims, dims, dims, dims, handle,
                          handle]),
        }
        for name, (result, arguments) in signatures.items():
            function = getattr(lib, name)
            function.restype, function.argtypes = result, arguments
        self.lib = lib
        self.engine, self.stream = _Handle(), _Handle()
        _check(lib.dnnl_engine_create(ctypes.byref(self.engine), _CPU_ENGINE, ctypes.c_size_t(0)), "engine_create")
        _check(lib.dnnl_stream_create(ctypes.byref(self.stream), self.engine, ctypes.c_uint(_IN_ORDER_STREAM)),
               "stream_create")
        # Primitives take their scratch memory from the caller (one buffer per execution), not from oneDNN's own
        # allocations.
        self.user_scratchpad = _Handle()
        _check(lib.dnnl_primitive_attr_create(ctypes.byref(self.user_scratchpad)), "primitive_attr_create")
        _check(lib.dnnl_primitive_attr_set_scratchpad_mode(self.user_scratchpad, _SCRATCHPAD_USER),
               "primitive_attr_set_scratchpad_mode")

    def layout_desc(self, shape, owner, layout=PLAIN):
        """Memory descriptor of a dense float32 array of logical ``shape`` stored in ``layout``."""
        return self.strided_desc(shape, layout_strides(shape, layout), owner)

    def strided_desc(self, shape, strides, owner):
        """Memory descriptor of a float32 array of logical ``shape`` with element ``strides``."""
        desc = _Handle()
        _check(self.lib.dnnl_memory_desc_create_with_strides(ctypes.byref(desc), len(shape), _Dims(*shape), _F32,
                                                             _Dims(*strides)), "memory_desc")
        return owner.keep("memory_desc", desc)

    def any_desc(self, shape, owner):
        """Memory descriptor of a float32 array of ``shape`` whose layout the primitive chooses."""
        desc = _Handle()
        _check(self.lib.dnnl_memory_desc_create_with_tag(ctypes.byref(desc), len(shape), _Dims(*shape), _F32,
                                                         _FORMAT_ANY), "memory_desc")
        return owner.keep("memory_desc", desc)

    def memory(self, desc, owner):
        """A oneDNN memory object for ``desc`` whose data pointer is set before each execution."""
        memory = _Handle()
        _check(self.lib.dnnl_memory_create(ctypes.byref(memory), desc, self.engine, None), "memory_create")
        return owner.keep("memory", memory)

    def primitive_desc(self, kind, owner, *arguments):
        """``dnnl_<kind>_primitive_desc_create(&desc, *arguments)``, the descriptor kept by ``owner``."""
        desc = _Handle()
        _check(getattr(self.lib, f"dnnl_{kind}_primitive_desc_create")(ctypes.byref(desc), *arguments),
               f"{kind}_primitive_desc")
        return owner.keep("primitive_desc", desc)

    def primitive(self, primitive_desc, owner):
        primitive = _Handle()
        _check(self.lib.dnnl_primitive_create(ctypes.byref(primitive), primitive_desc), "primitive_create")
        return owner.keep("primitive", primitive)

    def execute(self, primitive, args):
        """Run ``primitive`` with ``args`` = [(argument id, memory)], and wait for it."""
        packed = (_ExecArg * len(args))(*[_ExecArg(arg, memory) for arg, memory in args])
        _check(self.lib.dnnl_primitive_execute(primitive, self.stream, len(args), packed), "primitive_execute")
        _check(self.lib.dnnl_stream_wait(self.stream), "stream_wait")


class _Owner:
    """oneDNN objects destroyed together: when :meth:`release` is called (descriptors, once the primitives exist) or
    when nothing holds this owner any more (primitives and memory objects: their set evicted from its cache, and no
    recorded graph holding one of its steps)."""

    def __init__(self, lib):
        self.lib, self.objects = lib, []

    def keep(self, kind, handle):
        """Record ``handle``, destroyed later by ``dnnl_<kind>_destroy``; returns it."""
        self.objects.append((kind, handle))
        return handle

    def release(self):
        while self.objects:
            kind, handle = self.objects.pop()
            getattr(self.lib.lib, f"dnnl_{kind}_destroy")(handle)

    def __del__(self):
        self.release()


@functools.lru_cache(maxsize=1)
def _library():
    path = os.path.join(os.path.dirname(paddle.__file__), "libs", "libdnnl.so.3")
    try:
        return _Library(path)
    except (OSError, AttributeError, OneDNNError):
        return None


def available():
    """Whether oneDNN could be loaded from Paddle's wheel and a CPU engine created."""
    return _library() is not None


def version():
    """The loaded oneDNN's version ("3.6.2"), or None when it is not available."""
    return _library().version if available() else None


class _Operand:
    """One argument of a primitive: the layout the primitive chose, and per memory order a tensor may come in
    (:data:`PLAIN`, and :data:`CHANNELS_LAST` for 4-D activations) the reorder between the two (None when they are
    the same)."""

    def __init__(self, lib, arg, shape, chosen_desc, is_output, owner, temporary, layouts):
        self.arg, self.shape, self.is_output = arg, tuple(shape), is_output
        self.chosen_memory = lib.memory(chosen_desc, owner)
        self.chosen_floats = lib.lib.dnnl_memory_desc_get_size(chosen_desc) // 4
        self.reorders = {}
        for layout in layouts:
            user = lib.layout_desc(self.shape, temporary, layout)
            if lib.lib.dnnl_memory_desc_equal(user, chosen_desc):
                self.reorders[layout] = None
                continue
            source, target = (chosen_desc, user) if is_output else (user, chosen_desc)
            primitive_desc = lib.primitive_desc("reorder", temporary, source, lib.engine, target, lib.engine, None)
            self.reorders[layout] = (lib.primitive(primitive_desc, owner), lib.memory(source, owner),
                                     lib.memory(target, owner))


def _aligned_buffer(floats):
    """Uninitialised float32 array of ``floats`` elements starting on a cache line (64 bytes), as oneDNN prefers."""
    raw = np.empty(floats + 16, np.float32)
    start = (-raw.ctypes.data % 64) // 4
    return raw[start:start + floats]


class _Runnable:
    """A primitive and the :class:`_Owner` of its oneDNN objects. The step keeps its owner alive: an autograd node
    of a recorded graph holds steps, and the cache may evict their primitive set before the graph's backward runs."""

    def __init__(self, lib, primitive_desc, owner):
        self.lib, self.lock, self.owner = lib, threading.Lock(), owner
        self.primitive = lib.primitive(primitive_desc, owner)


class _Step(_Runnable):
    """One primitive (forward, backward data or backward weights) with its operands; the last operand is the output.

    ``activations`` are the arguments that are 4-D activation maps (they may come and go channels-last)."""

    def __init__(self, lib, primitive_desc, operands, owner, temporary, activations=()):
        super().__init__(lib, primitive_desc, owner)
        self.operands = [_Operand(lib, arg, shape, lib.lib.dnnl_primitive_desc_query_md(primitive_desc, query, 0),
                                  index == len(operands) - 1, owner, temporary,
                                  (PLAIN, CHANNELS_LAST) if arg in activations else (PLAIN,))
                         for index, (arg, shape, query) in enumerate(operands)]
        scratchpad_desc = lib.lib.dnnl_primitive_desc_query_md(primitive_desc, _QUERY_SCRATCHPAD, 0)
        self.scratchpad_floats = lib.lib.dnnl_memory_desc_get_size(scratchpad_desc) // 4 if scratchpad_desc else 0
        self.scratchpad = lib.memory(scratchpad_desc, owner) if self.scratchpad_floats else None

    def run(self, *inputs, layout=PLAIN):
        """Execute on float32 CPU tensors whose memory is dense in either order (in operand order, output
        excluded); returns the output tensor, its memory in ``layout``."""
        with self.lock:  # the memory objects' data pointers are shared state
            return self._run(inputs, layout)

    def _run(self, inputs, layout):
        set_pointer = self.lib.lib.dnnl_memory_set_data_handle
        output = empty(self.operands[-1].shape, layout)
        placed = [(tensor.data_ptr(), memory_layout(tensor)) for tensor in inputs] + [(output.data_ptr(), layout)]
        args, buffers = [], []  # buffers: operands in the primitive's layouts and its scratch memory, kept alive
        output_reorder = None  # (reorder, buffer) when the output comes in a layout other than the primitive's
        for operand, (pointer, user_layout) in zip(self.operands, placed):
            reorder = operand.reorders[user_layout]
            args.append((operand.arg, operand.chosen_memory))
            if reorder is None:
                set_pointer(operand.chosen_memory, _Handle(pointer))
                continue
            buffer = _aligned_buffer(operand.chosen_floats)
            buffers.append(buffer)
            set_pointer(operand.chosen_memory, _Handle(buffer.ctypes.data))
            if operand.is_output:
                output_reorder = (reorder, buffer)
            else:
                self._reorder(reorder, pointer, buffer.ctypes.data)
        if self.scratchpad is not None:
            buffers.append(_aligned_buffer(self.scratchpad_floats))
            set_pointer(self.scratchpad, _Handle(buffers[-1].ctypes.data))
            args.append((ARG_SCRATCHPAD, self.scratchpad))
        self.lib.execute(self.primitive, args)
        if output_reorder is not None:
            reorder, buffer = output_reorder
            self._reorder(reorder, buffer.ctypes.data, output.data_ptr())
        return output

    def _reorder(self, reorder, source_pointer, target_pointer):
        primitive, source, target = reorder
        self.lib.lib.dnnl_memory_set_data_handle(source, _Handle(source_pointer))
        self.lib.lib.dnnl_memory_set_data_handle(target, _Handle(target_pointer))
        self.lib.execute(primitive, [(ARG_SRC, source), (ARG_DST, target)])


class _PrimitiveSet:
    """Primitives built by the subclass's ``_build(lib, temporary, *arguments)``; the descriptors it keeps in
    ``temporary`` are released once it is done, the primitives and memory objects in ``self.owner`` with the set."""

    def __init__(self, lib, *arguments):
        self.owner, temporary = _Owner(lib), _Owner(lib)
        try:
            self._build(lib, temporary, *arguments)
        finally:
            temporary.release()


class ConvPrimitives(_PrimitiveSet):
    """oneDNN forward, backward-data and backward-weights convolutions for one :class:`ConvGeometry` (no bias).

    With ``channels_last`` the activations (input, output and their gradients) stay in NHWC order, in which oneDNN's
    kernels read and write Paddle's tensors without reorders; otherwise oneDNN picks blocked layouts for them and
    tensors are reordered in and out. Weights are reordered to oneDNN's layout either way."""

    def _build(self, lib, temporary, geometry, channels_last=False):
        src, dst = ((lib.layout_desc(shape, temporary, CHANNELS_LAST) if channels_last
                     else lib.any_desc(shape, temporary)) for shape in (geometry.src, geometry.dst))
        weights = lib.any_desc(geometry.weights, temporary)
        window = [_Dims(*values) for values in (geometry.stride, [d - 1 for d in geometry.dilation],
                                                geometry.pad_begin, geometry.pad_end)]
        forward = lib.primitive_desc("convolution_forward", temporary, lib.engine, _FORWARD_TRAINING,
                                     _CONVOLUTION_DIRECT, src, weights, None, dst, *window, lib.user_scratchpad)
        backward_data = lib.primitive_desc("convolution_backward_data", temporary, lib.engine, _CONVOLUTION_DIRECT,
                                           src, weights, dst, *window, forward, lib.user_scratchpad)
        backward_weights = lib.primitive_desc("convolution_backward_weights", temporary, lib.engine,
                                              _CONVOLUTION_DIRECT, src, weights, None, dst, *window, forward,
                                              lib.user_scratchpad)
        shapes = {ARG_SRC: geometry.src, ARG_DIFF_SRC: geometry.src, ARG_WEIGHTS: geometry.weights,
                  ARG_DIFF_WEIGHTS: geometry.weights, ARG_DST: geometry.dst, ARG_DIFF_DST: geometry.dst}
        activations = (ARG_SRC, ARG_DIFF_SRC, ARG_DST, ARG_DIFF_DST)
        self.forward, self.backward_data, self.backward_weights = (
            _Step(lib, primitive_desc, [(arg, shapes[arg], _QUERY_OF[arg]) for arg in args], self.owner, temporary,
                  activations)
            for primitive_desc, args in ((forward, (ARG_SRC, ARG_WEIGHTS, ARG_DST)),
                                         (backward_data, (ARG_DIFF_DST, ARG_WEIGHTS, ARG_DIFF_SRC)),
                                         (backward_weights, (ARG_SRC, ARG_DIFF_DST, ARG_DIFF_WEIGHTS))))

    def passes(self, transposed):
        """:class:`ConvPasses` of this conv, or of the transposed conv sharing its weights, whose forward pass is
        this conv's backward-data pass and whose input gradient is this conv's forward."""
        if transposed:
            return ConvPasses(self.backward_data, self.forward, self.backward_weights, True)
        return ConvPasses(self.forward, self.backward_data, self.backward_weights, False)


class ReluPrimitives(_PrimitiveSet):
    """oneDNN forward and backward (leaky) ReLU, ``max(x, 0) + slope * min(x, 0)``, on plain arrays of one shape."""

    def _build(self, lib, temporary, shape, negative_slope):
        plain = lib.layout_desc(shape, temporary)
        forward = lib.primitive_desc("eltwise_forward", temporary, lib.engine, _FORWARD_TRAINING, _ELTWISE_RELU,
                                     plain, plain, negative_slope, 0.0, lib.user_scratchpad)
        backward = lib.primitive_desc("eltwise_backward", temporary, lib.engine, _ELTWISE_RELU, plain, plain, plain,
                                      negative_slope, 0.0, forward, lib.user_scratchpad)
        self.forward = _Step(lib, forward, [(arg, shape, _QUERY_OF[arg]) for arg in (ARG_SRC, ARG_DST)],
                             self.owner, temporary)
        self.backward = _Step(lib, backward, [(arg, shape, _QUERY_OF[arg])
                                              for arg in (ARG_SRC, ARG_DIFF_DST, ARG_DIFF_SRC)],
                              self.owner, temporary)


class _FixedStep(_Runnable):
    """A primitive whose operands all come in the layouts it was built for (no reorders); oneDNN keeps its scratch
    memory."""

    def __init__(self, lib, primitive_desc, descs, owner):
        super().__init__(lib, primitive_desc, owner)
        self.memories = {arg: lib.memory(desc, owner) for arg, desc in descs.items()}

    def run(self, tensors):
        """Execute with ``tensors`` = {argument id: dense float32 CPU tensor, or a data address}, outputs
        included."""
        with self.lock:
            for arg, tensor in tensors.items():
                address = tensor if isinstance(tensor, int) else tensor.data_ptr()
                self.lib.lib.dnnl_memory_set_data_handle(self.memories[arg], _Handle(address))
            self.lib.execute(self.primitive, [(arg, self.memories[arg]) for arg in tensors])


class BatchNormPrimitives(_PrimitiveSet):
    """oneDNN batch normalization (scale and shift) of channels-last maps of one shape: training forward (batch
    statistics out), inference forward (given statistics) and backward (input, scale and shift gradients)."""

    def _build(self, lib, temporary, shape, epsilon):
        maps, channels = lib.layout_desc(shape, temporary, CHANNELS_LAST), lib.layout_desc(shape[1:2], temporary)
        kinds = {"forward": (_FORWARD_TRAINING, 0), "inference": (_FORWARD_INFERENCE, _USE_GLOBAL_STATS)}
        descs = {arg: maps for arg in (ARG_SRC, ARG_DST, ARG_DIFF_SRC, ARG_DIFF_DST)}
        descs.update({arg: channels for arg in (ARG_MEAN, ARG_VARIANCE, ARG_SCALE, ARG_SHIFT, ARG_DIFF_SCALE,
                                                ARG_DIFF_SHIFT)})
        for name, (prop_kind, flags) in kinds.items():
            primitive_desc = lib.primitive_desc("batch_normalization_forward", temporary, lib.engine, prop_kind,
                                                maps, maps, epsilon, _USE_SCALE_SHIFT | flags, None)
            setattr(self, name, _FixedStep(lib, primitive_desc, descs, self.owner))
        backward = lib.primitive_desc("batch_normalization_backward", temporary, lib.engine, _BACKWARD, maps, maps,
                                      maps, epsilon, _USE_SCALE_SHIFT, primitive_desc, None)
        self.backward = _FixedStep(lib, backward, descs, self.owner)


class ConcatPrimitives(_PrimitiveSet):
    """oneDNN concatenation of channels-last maps of ``shapes`` along the channels, and for its gradient one copy per
    input of that input's channel slice out of the channels-last output gradient (a reorder from a strided view)."""

    def _build(self, lib, temporary, shapes):
        batch, _, height, width = shapes[0]
        self.out_shape = (batch, sum(shape[1] for shape in shapes), height, width)
        sources = [lib.layout_desc(shape, temporary, CHANNELS_LAST) for shape in shapes]
        out = lib.layout_desc(self.out_shape, temporary, CHANNELS_LAST)
        concat = lib.primitive_desc("concat", temporary, lib.engine, out, len(shapes), 1,
                                    (_Handle * len(shapes))(*sources), None)
        descs = {ARG_MULTIPLE_SRC + index: source for index, source in enumerate(sources)}
        self.forward = _FixedStep(lib, concat, {**descs, ARG_DST: out}, self.owner)
        out_strides, start, self.slices = layout_strides(self.out_shape, CHANNELS_LAST), 0, []
        for shape, source in zip(shapes, sources):
            view = lib.strided_desc(shape, out_strides, temporary)
            copy = lib.primitive_desc("reorder", temporary, view, lib.engine, source, lib.engine, None)
            self.slices.append((start, shape, _FixedStep(lib, copy, {ARG_SRC: view, ARG_DST: source}, self.owner)))
            start += shape[1]


def _built(primitive_set, *arguments):
    """``primitive_set(library, *arguments)``, or None when oneDNN is unavailable or rejects the arguments."""
    lib = _library()
    if lib is None:
        return None
    try:
        return primitive_set(lib, *arguments)
    except OneDNNError:
        return None


@functools.lru_cache(maxsize=256)
def relu_primitives(shape, negative_slope):
    """Cached :class:`ReluPrimitives` for ``shape``, or None when oneDNN is unavailable or rejects it."""
    return _built(ReluPrimitives, shape, negative_slope)


@functools.lru_cache(maxsize=256)
def batch_norm_primitives(shape, epsilon):
    """Cached :class:`BatchNormPrimitives` for channels-last maps of ``shape``, or None when oneDNN is unavailable
    or rejects them."""
    return _built(BatchNormPrimitives, shape, epsilon)


@functools.lru_cache(maxsize=256)
def concat_primitives(shapes):
    """Cached :class:`ConcatPrimitives` for channels-last maps of ``shapes``, or None when oneDNN is unavailable or
    rejects them."""
    return _built(ConcatPrimitives, shapes)


@functools.lru_cache(maxsize=256)
def conv_primitives(geometry, channels_last=False):
    """Cached :class:`ConvPrimitives` for ``geometry`` (NHWC activations with ``channels_last``), or None when
    oneDNN is unavailable or rejects it."""
    return _built(ConvPrimitives, geometry, channels_last)


def axis_pair(value):
    """(height, width) values of an int or a per-axis pair."""
    return (value, value) if isinstance(value, int) else tuple(value)


def is_axis_pair(value):
    """Whether ``value`` is an int or a pair of ints (not 'SAME' / 'VALID' or per-side padding)."""
    return isinstance(value, int) or (isinstance(value, (list, tuple)) and len(value) == 2
                                      and all(isinstance(item, int) for item in value))


def _window(stride, padding, dilation):
    """Per-axis (stride, padding, dilation) ints, or None for padding forms other than an int or one int per axis."""
    if not is_axis_pair(padding):
        return None
    return axis_pair(stride), axis_pair(padding), axis_pair(dilation)


def _conv_geometry(src, weights, dst, stride, padding, dilation):
    span = [dilation[axis] * (weights[2 + axis] - 1) + 1 for axis in (0, 1)]
    pad_end = [(dst[2 + axis] - 1) * stride[axis] + span[axis] - src[2 + axis] - padding[axis] for axis in (0, 1)]
    return ConvGeometry(tuple(src), tuple(weights), tuple(dst), stride, dilation, padding, tuple(pad_end))


_recording_depth = 0


@contextlib.contextmanager
def recorded_backward():
    """Inside the block, convs whose inputs take gradients run through oneDNN too, with a backward node for
    ``loss.backward()``. Not for ``paddle.grad`` over a subset of the inputs, nor for double backward."""
    global _recording_depth
    _recording_depth += 1
    try:
        yield
    finally:
        _recording_depth -= 1


def _needs_graph(*tensors):
    return paddle.is_grad_enabled() and not all(tensor.stop_gradient for tensor in tensors)


def _may_run(*tensors):
    """Non-empty float32 inputs, oneDNN loaded, and no gradient to record outside :func:`recorded_backward`."""
    return (all(tensor.dtype == paddle.float32 and tensor.size > 0 for tensor in tensors) and available()
            and (_recording_depth > 0 or not _needs_graph(*tensors)))


def _apply(node, direct_step, extra, inputs, layout=PLAIN):
    """``direct_step.run(*inputs)`` (its output in ``layout``) where no gradient is recorded, else the autograd
    ``node`` (a PyLayer that takes the ``extra`` arguments after the tensors)."""
    if _needs_graph(*inputs):
        return node.apply(*inputs, *extra)
    return direct_step.run(*inputs, layout=layout)


class _Convolution(PyLayer):
    """A conv, or a transposed conv, with its passes from :meth:`ConvPrimitives.passes`; the output in ``layout``,
    the input gradient in the input's memory order."""

    @staticmethod
    def forward(ctx, x, weight, passes, layout):
        ctx.passes, ctx.layout = passes, layout
        ctx.save_for_backward(x, weight)
        return passes.forward.run(x, weight, layout=layout)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensor()
        grad, passes = dense(grad, ctx.layout), ctx.passes
        grad_x = None
        if not x.stop_gradient:
            grad_x = passes.input_gradient.run(grad, weight, layout=memory_layout(x))
        grad_weight = None
        if not weight.stop_gradient:  # the weight gradient pairs the conv's own input and output gradient
            grad_weight = passes.weights_gradient.run(*((grad, x) if passes.transposed else (x, grad)))
        return grad_x, grad_weight


class _Relu(PyLayer):
    @staticmethod
    def forward(ctx, x, primitives):
        ctx.primitives = primitives
        ctx.save_for_backward(x)
        return primitives.forward.run(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensor()
        return ctx.primitives.backward.run(x, in_layout(grad, PLAIN))


def relu(x, negative_slope=0.0):
    """``F.leaky_relu(x, negative_slope)`` (``F.relu`` for slope 0) of a float32 tensor through oneDNN, or None when
    oneDNN is unavailable or a gradient would be recorded outside :func:`recorded_backward`. A channels-last input
    gives a channels-last output."""
    if not _may_run(x):
        return None
    if memory_layout(x) == CHANNELS_LAST:  # elementwise: run on the NHWC memory as it lies
        out = relu(x.transpose(TO_NHWC), negative_slope)
        return None if out is None else out.transpose(TO_NCHW)
    primitives = relu_primitives(tuple(x.shape), float(negative_slope))
    return None if primitives is None else _apply(_Relu, primitives.forward, [primitives], [in_layout(x, PLAIN)])


def _convolve(x, weight, geometry, transposed, channels_last):
    layout = CHANNELS_LAST if channels_last else PLAIN
    primitives = conv_primitives(geometry, channels_last)
    if primitives is None:
        return None
    passes = primitives.passes(transposed)
    return _apply(_Convolution, passes.forward, [passes, layout], [dense(x, layout), in_layout(weight, PLAIN)],
                  layout)


def conv2d(x, weight, stride, padding, dilation, channels_last=False):
    """``F.conv2d(x, weight, None, stride, padding, dilation)`` (NCHW, groups 1, float32) through oneDNN, or None
    when oneDNN is unavailable or does not take this geometry (the caller then runs Paddle's kernel). With
    ``channels_last`` the output's memory is NHWC (see :class:`ConvPrimitives`); inputs may come in either order."""
    window = _window(stride, padding, dilation)
    if window is None or x.ndim != 4 or not _may_run(x, weight):
        return None
    stride, padding, dilation = window
    batch, _, height, width = x.shape
    size = [(side + 2 * padding[axis] - dilation[axis] * (weight.shape[2 + axis] - 1) - 1) // stride[axis] + 1
            for axis, side in enumerate((height, width))]
    if min(size) < 1:
        return None
    geometry = _conv_geometry(x.shape, weight.shape, [batch, weight.shape[0], *size], stride, padding, dilation)
    return _convolve(x, weight, geometry, False, channels_last)


def conv2d_transpose(x, weight, stride, padding, dilation, output_hw, channels_last=False):
    """``F.conv2d_transpose`` of NCHW ``x`` with ``[C_in, C_out, kh, kw]`` weights to an ``output_hw`` map (groups 1,
    float32, no bias) through oneDNN, or None when oneDNN is unavailable or does not take this geometry;
    ``channels_last`` as for :func:`conv2d`."""
    window = _window(stride, padding, dilation)
    if window is None or x.ndim != 4 or not _may_run(x, weight):
        return None
    stride, padding, dilation = window
    output_shape = [x.shape[0], weight.shape[1], *output_hw]
    geometry = _conv_geometry(output_shape, weight.shape, x.shape, stride, padding, dilation)
    if min(geometry.pad_end) < 0:
        return None
    return _convolve(x, weight, geometry, True, channels_last)


class _BatchNorm(PyLayer):
    """Training-mode batch normalization of a channels-last map; also returns the batch mean and variance."""

    @staticmethod
    def forward(ctx, x, scale, shift, primitives):
        out, mean, variance = _normalized(x, scale, shift, primitives)
        ctx.primitives = primitives
        ctx.wanted = [not tensor.stop_gradient for tensor in (x, scale, shift)]
        ctx.save_for_backward(x, scale, mean, variance)
        ctx.mark_non_differentiable(mean, variance)
        return out, mean, variance

    @staticmethod
    def backward(ctx, grad, *_):
        x, scale, mean, variance = ctx.saved_tensor()
        grad_x = empty(x.shape, CHANNELS_LAST)
        grad_scale, grad_shift = paddle.empty_like(scale), paddle.empty_like(scale)
        ctx.primitives.backward.run({ARG_SRC: x, ARG_DIFF_DST: in_layout(grad, CHANNELS_LAST), ARG_MEAN: mean,
                                     ARG_VARIANCE: variance, ARG_SCALE: scale, ARG_DIFF_SRC: grad_x,
                                     ARG_DIFF_SCALE: grad_scale, ARG_DIFF_SHIFT: grad_shift})
        return tuple(grad if wanted else None for grad, wanted in zip((grad_x, grad_scale, grad_shift), ctx.wanted))


def _normalized(x, scale, shift, primitives):
    """Training-mode batch norm of channels-last ``x``: (output, batch mean, batch variance)."""
    out, mean, variance = empty(x.shape, CHANNELS_LAST), paddle.empty([x.shape[1]]), paddle.empty([x.shape[1]])
    primitives.forward.run({ARG_SRC: x, ARG_SCALE: scale, ARG_SHIFT: shift, ARG_DST: out, ARG_MEAN: mean,
                            ARG_VARIANCE: variance})
    return out, mean, variance


def batch_norm(x, running_mean, running_var, scale, shift, training, momentum, epsilon):
    """``F.batch_norm`` of a channels-last float32 map through oneDNN (scale and shift given; in training the batch
    statistics, and the running statistics updated by :func:`.batch_statistics.update_running_statistics`), or None when oneDNN is
    unavailable, the map is not channels-last, or a gradient would be recorded outside :func:`recorded_backward`
    (or through the running statistics of an inference-mode norm)."""
    if memory_layout(x) != CHANNELS_LAST or not _may_run(x, scale, shift):
        return None
    if not training and _needs_graph(x, scale, shift):
        return None
    primitives = batch_norm_primitives(tuple(x.shape), float(epsilon))
    if primitives is None:
        return None
    scale, shift = in_layout(scale, PLAIN), in_layout(shift, PLAIN)
    if not training:
        out = empty(x.shape, CHANNELS_LAST)
        primitives.inference.run({ARG_SRC: x, ARG_MEAN: in_layout(running_mean, PLAIN),
                                  ARG_VARIANCE: in_layout(running_var, PLAIN), ARG_SCALE: scale, ARG_SHIFT: shift,
                                  ARG_DST: out})
        return out
    if _needs_graph(x, scale, shift):
        out, mean, variance = _BatchNorm.apply(x, scale, shift, primitives)
    else:
        out, mean, variance = _normalized(x, scale, shift, primitives)
    update_running_statistics(running_mean, running_var, mean, variance, x.size // x.shape[1], momentum)
    return out


class _Concat(PyLayer):
    """Channel concatenation of channels-last maps (the primitives come after the tensors)."""

    @staticmethod
    def forward(ctx, *inputs):
        *tensors, primitives = inputs
        ctx.primitives, ctx.wanted = primitives, [not tensor.stop_gradient for tensor in tensors]
        return _concatenated(tensors, primitives)

    @staticmethod
    def backward(ctx, grad):
        grad, grads = in_layout(grad, CHANNELS_LAST), []
        for (start, shape, copy), wanted in zip(ctx.primitives.slices, ctx.wanted):
            if not wanted:
                grads.append(None)
                continue
            grads.append(empty(shape, CHANNELS_LAST))
            copy.run({ARG_SRC: grad.data_ptr() + 4 * start, ARG_DST: grads[-1]})
        return tuple(grads)


def _concatenated(tensors, primitives):
    out = empty(primitives.out_shape, CHANNELS_LAST)
    primitives.forward.run({**{ARG_MULTIPLE_SRC + index: tensor for index, tensor in enumerate(tensors)},
                            ARG_DST: out})
    return out


def concat_channels(tensors):
    """``paddle.concat(tensors, axis=1)`` of channels-last float32 maps through oneDNN (the result channels-last), or
    None when oneDNN is unavailable, an input is not channels-last or the maps differ in batch or size, or a gradient
    would be recorded outside :func:`recorded_backward`."""
    shapes = tuple(tuple(tensor.shape) for tensor in tensors)
    if (len(tensors) < 2 or any(len(shape) != 4 or shape[:1] + shape[2:] != shapes[0][:1] + shapes[0][2:]
                                for shape in shapes)
            or any(memory_layout(tensor) != CHANNELS_LAST for tensor in tensors) or not _may_run(*tensors)):
        return None
    primitives = concat_primitives(shapes)
    if primitives is None:
        return None
    if _needs_graph(*tensors):
        return _Concat.apply(*tensors, primitives)
    return _concatenated(tensors, primitives)
