"""Static export of a generator (dynamic batch, height and width) and running it with Paddle Inference.

:func:`export_generator` writes ``generator.json`` + ``generator.pdiparams`` (``paddle.jit.save`` with input
``[None, C, None, None]``) and ``ppix2pix_export.yaml``, which records the resolved config, the size multiple and the
test-time mode, so a :class:`ppix2pix.translator.Translator` can pad or resize any image for the exported model.

Test-time modes in a static graph. ``paddle.jit.save`` always stores the inference form of BatchNorm and Dropout
(running statistics, no dropout), and Paddle Inference would fold a training-mode BatchNorm into the convolutions
anyway. So:

* ``eval`` exports the network as it is (deterministic; matches the eager ``eval`` mode to ~1e-7).
* ``paper`` first swaps every BatchNorm for :class:`BatchStatisticsNorm` (normalizes with the batch's own mean and
  variance, written with plain sums that survive the inference passes) and every Dropout for
  :class:`StochasticDropout` (a fresh Bernoulli mask on each run, built from ``uniform``). The exported model then
  behaves like the eager ``paper`` mode, except that its dropout cannot be seeded: every run draws new masks.

ONNX (:func:`export_onnx`, needs paddle2onnx) is written for ``eval`` mode only, with LeakyReLU spelled as
``max(x, 0.2 x)`` because paddle2onnx 2.1 writes a wrong LeakyReLU slope for Paddle 3 programs.
"""
import copy
import inspect
import os
import tempfile

import paddle
import paddle.nn as nn
import yaml

from .choices import EXPORT_INFO_FILE as INFO_FILE  # (re-exported)
from .errors import ConfigError, ExportError
from .networks import check_test_mode, generator_size_multiple
from .runtime import usable_cores

EXPORT_FORMAT = "ppix2pix-export/1"
MODEL_PREFIX = "generator"
INPUT_NAME = "image"
PRECISIONS = ("fp32", "fp16")
INFO_KEYS = ("model_file", "params_file", "input_name", "input_nc", "output_nc", "size_multiple", "test_mode",
             "config")  # what export_generator writes beside the format


class BatchStatisticsNorm(nn.Layer):
    """BatchNorm that always normalizes with the current batch's statistics (for static paper-mode graphs)."""

    def __init__(self, batch_norm):
        super().__init__()
        self.weight, self.bias, self.epsilon = batch_norm.weight, batch_norm.bias, batch_norm._epsilon

    def forward(self, x):
        shape = paddle.shape(x)
        count = (shape[0] * shape[2] * shape[3]).astype(x.dtype)
        mean = x.sum(axis=[0, 2, 3], keepdim=True) / count
        centered = x - mean
        variance = (centered * centered).sum(axis=[0, 2, 3], keepdim=True) / count
        scale = self.weight.reshape([1, -1, 1, 1]) / paddle.sqrt(variance + self.epsilon)
        return centered * scale + self.bias.reshape([1, -1, 1, 1])


class StochasticDropout(nn.Layer):
    """Dropout that is active in every mode (inverted scaling, as ``nn.Dropout`` in training)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        keep = (paddle.rand(paddle.shape(x), dtype=x.dtype) >= self.p).astype(x.dtype)
        return x * keep / (1.0 - self.p)


class MaxLeakyReLU(nn.Layer):
    """LeakyReLU written as max(x, slope * x) (slope < 1); paddle2onnx 2.1 garbles LeakyReLU's slope on Paddle 3."""

    def __init__(self, slope):
        super().__init__()
        self.slope = slope

    def forward(self, x):
        return paddle.maximum(x, x * self.slope)


def static_network(net, test_mode, for_onnx=False):
    """A copy of ``net`` in eval mode ready for ``paddle.jit.save``.

    ``paper``: BatchNorm -> :class:`BatchStatisticsNorm`, Dropout -> :class:`StochasticDropout`, so the static
    graph keeps the paper's behaviour. ``for_onnx``: LeakyReLU -> :class:`MaxLeakyReLU` (same values).
    """
    check_test_mode(test_mode, ExportError)
    net = copy.deepcopy(net)
    for layer in net.sublayers(include_self=True):
        for name, child in list(layer._sub_layers.items()):
            if test_mode == "paper" and isinstance(child, nn.layer.norm._BatchNormBase):
                layer._sub_layers[name] = BatchStatisticsNorm(child)
            elif test_mode == "paper" and isinstance(child, nn.Dropout):
                layer._sub_layers[name] = StochasticDropout(child.p)
            elif for_onnx and isinstance(child, nn.LeakyReLU):
                layer._sub_layers[name] = MaxLeakyReLU(child._negative_slope)
    net.eval()
    return net


def save_static(net, input_nc, prefix):
    """``paddle.jit.save`` ``net`` with input ``[None, input_nc, None, None]``; returns the model file's name."""
    spec = [paddle.static.InputSpec([None, input_nc, None, None], "float32", INPUT_NAME)]
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    paddle.jit.save(paddle.jit.to_static(net, input_spec=spec, full_graph=True), prefix)
    for extension in (".json", ".pdmodel"):
        if os.path.isfile(prefix + extension):
            return os.path.basename(prefix + extension)
    raise ExportError(f"paddle.jit.save wrote no model file for {prefix}")


def export_generator(net, cfg, output_dir, test_mode="eval"):
    """Write ``net`` (built from ``cfg``) as a static model with dynamic N/H/W to ``output_dir``; returns the info.

    The files are ``generator.json``/``generator.pdiparams`` and ``ppix2pix_export.yaml``. ``net`` is not changed.
    """
    generator = cfg["model"]["generator"]
    model_file = save_static(static_network(net, test_mode), generator["input_nc"],
                             os.path.join(output_dir, MODEL_PREFIX))
    info = {
        "format": EXPORT_FORMAT,
        "model_file": model_file,
        "params_file": f"{MODEL_PREFIX}.pdiparams",
        "input_name": INPUT_NAME,
        "input_nc": generator["input_nc"],
        "output_nc": generator["output_nc"],
        "size_multiple": generator_size_multiple(generator),
        "test_mode": test_mode,
        "config": cfg,
    }
    with open(os.path.join(output_dir, INFO_FILE), "w", encoding="utf-8") as handle:
        yaml.safe_dump(info, handle, sort_keys=False)
    return dict(info, folder=os.path.abspath(output_dir))


def read_export_info(path):
    """The info of an exported model; ``path`` is its folder or its ``ppix2pix_export.yaml``."""
    from .config import resolve_config
    info_path = os.path.join(path, INFO_FILE) if os.path.isdir(path) else path
    if os.path.basename(info_path) != INFO_FILE or not os.path.isfile(info_path):
        raise ExportError(f"{path}: not an exported ppix2pix model (no {INFO_FILE}); make one with "
                          f"tools/export.py --checkpoint CKPT --output DIR, or drop --predictor to use a checkpoint")
    with open(info_path, encoding="utf-8") as handle:
        info = yaml.safe_load(handle)
    if not isinstance(info, dict) or info.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{info_path}: unknown export format (expected {EXPORT_FORMAT}); re-export the model")
    folder = os.path.dirname(os.path.abspath(info_path))
    _check_info(info, info_path, folder)
    try:
        info["config"] = resolve_config(info["config"], f"config stored in {info_path}")
    except ConfigError as error:
        raise ExportError(str(error)) from None
    return dict(info, folder=folder)


def _check_info(info, info_path, folder):
    """Every key of :data:`INFO_KEYS` is there, and the model files are plain file names present in ``folder`` (an
    absolute path or ``..`` would read a file from anywhere)."""
    for key in INFO_KEYS:
        if key not in info:
            raise ExportError(f"{info_path}: the key {key!r} is missing; re-export the model with tools/export.py")
    for key in ("model_file", "params_file"):
        name = info[key]
        if not isinstance(name, str) or name in ("", ".", "..") or os.path.basename(name) != name:
            raise ExportError(f"{info_path}: {key} must be a file name in the export folder, got {name!r}; "
                              f"re-export the model with tools/export.py")
        if not os.path.isfile(os.path.join(folder, name)):
            raise ExportError(f"{info_path}: {name} is missing from {folder}; re-export the model")


def predictor_config(info, device="cpu", onednn=True, threads=None, tensorrt=False, precision="fp32",
                     gpu_id=0, trt_max_size=2048, trt_max_batch=8):
    """A ``paddle.inference.Config`` for an exported model.

    CPU: oneDNN on or off, ``threads`` math threads (default: OMP_NUM_THREADS or the usable cores). GPU:
    ``precision`` fp32/fp16, optionally TensorRT with dynamic shapes from one multiple up to ``trt_max_size`` pixels
    and ``trt_max_batch`` images. Requests the Paddle build cannot serve raise :class:`ExportError`.
    """
    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    config = paddle.inference.Config(os.path.join(info["folder"], info["model_file"]),
                                     os.path.join(info["folder"], info["params_file"]))
    config.disable_glog_info()
    if device == "cpu":
        if tensorrt or precision != "fp32":
            raise ExportError("TensorRT and fp16 need a GPU predictor (--device gpu)")
        config.disable_gpu()
        if onednn:
            config.enable_onednn()
        else:
            config.disable_onednn()
        config.set_cpu_math_library_num_threads(int(threads or os.environ.get("OMP_NUM_THREADS") or usable_cores()))
        return config
    if device != "gpu":
        raise ExportError(f"device must be cpu or gpu, got {device!r}")
    if not paddle.is_compiled_with_cuda():
        raise ExportError("this Paddle build has no CUDA support: install paddlepaddle-gpu or use the CPU predictor")
    kind = paddle.inference.PrecisionType.Half if precision == "fp16" else paddle.inference.PrecisionType.Float32
    config.enable_use_gpu(256, gpu_id, paddle.inference.PrecisionType.Float32 if tensorrt else kind)
    if tensorrt:
        if not paddle.inference.get_trt_compile_version()[0]:
            raise ExportError("this Paddle build has no TensorRT support; drop --tensorrt")
        config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=trt_max_batch, min_subgraph_size=3,
                                      precision_mode=kind, use_static=False, use_calib_mode=False)
        channels, multiple = info["input_nc"], info["size_multiple"]
        config.set_trt_dynamic_shape_info({INPUT_NAME: [1, channels, multiple, multiple]},
                                          {INPUT_NAME: [trt_max_batch, channels, trt_max_size, trt_max_size]},
                                          {INPUT_NAME: [1, channels, 256, 256]})
    return config


class PredictorRunner:
    """Runs an exported model with Paddle Inference on aligned N x C x H x W float32 batches (numpy in and out)."""

    def __init__(self, info, **options):
        self.info, self.test_mode = info, info["test_mode"]
        self.predictor = paddle.inference.create_predictor(predictor_config(info, **options))
        self.input_name = info["input_name"]
        self.output_name = self.predictor.get_output_names()[0]

    def __call__(self, batch):
        handle = self.predictor.get_input_handle(self.input_name)
        handle.reshape(list(batch.shape))
        handle.copy_from_cpu(batch)
        self.predictor.run()
        return self.predictor.get_output_handle(self.output_name).copy_to_cpu()


def export_onnx(net, cfg, path, test_mode="eval", opset=11):
    """Write ``net`` as an ONNX model (dynamic N/H/W) with paddle2onnx, which must be installed; returns ``path``.

    Only ``eval`` mode: paddle2onnx turns the paper mode's dynamic-shape uniform draw into a single random scalar,
    which would keep or drop whole layers instead of single units.
    """
    if test_mode != "eval":
        raise ExportError("ONNX export supports the eval test mode only (paddle2onnx cannot convert the paper mode's "
                          "per-unit dropout); export with --test-mode eval, or use the Paddle model for paper mode")
    try:
        import paddle2onnx
    except ImportError:
        raise ExportError("ONNX export needs paddle2onnx, which is not installed: pip install paddle2onnx "
                          "(or pip install ppix2pix[onnx])") from None
    options = {"save_file": path, "opset_version": opset, "enable_onnx_checker": True}
    if "optimize_tool" in inspect.signature(paddle2onnx.export).parameters:
        # paddle2onnx's default (polygraphy) pip-installs missing modules at run time; onnxoptimizer does not
        options["optimize_tool"] = "onnxoptimizer"
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, MODEL_PREFIX)
        model_file = save_static(static_network(net, test_mode, for_onnx=True), cfg["model"]["generator"]["input_nc"],
                                 prefix)
        paddle2onnx.export(os.path.join(folder, model_file), prefix + ".pdiparams", **options)
    return path
