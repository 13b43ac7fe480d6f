"""The work of tools/export.py (ppix2pix/cli/export.py parses its arguments first): export and parity checks."""
import os

import numpy as np

from ..device import select_device
from ..errors import CliError
from ..exporter import INFO_FILE, PredictorRunner, export_generator, export_onnx
from ..networks import generator_size_multiple, inference_mode
from .common import checkpoint_generator

TOLERANCE = 1e-4


def parity_check(net, info, size):
    """Max abs difference between the eager network (eval mode) and the exported model through the predictor."""
    import paddle
    channels = info["input_nc"]
    batch = np.random.default_rng(0).uniform(-1, 1, (2, channels, size, size)).astype(np.float32)
    with paddle.no_grad(), inference_mode(net, "eval"):
        eager = net(paddle.to_tensor(batch)).numpy()
    exported = PredictorRunner(info, device="cpu")(batch)
    return float(np.abs(eager - exported).max())


def onnx_parity(path, net, info, size):
    """Max abs difference between ONNX Runtime and the eager network, or None when onnxruntime is missing."""
    try:
        import onnxruntime
    except ImportError:
        return None
    import paddle
    batch = np.random.default_rng(1).uniform(-1, 1, (1, info["input_nc"], size, size)).astype(np.float32)
    with paddle.no_grad(), inference_mode(net, "eval"):
        eager = net(paddle.to_tensor(batch)).numpy()
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    output = session.run(None, {session.get_inputs()[0].name: batch})[0]
    return float(np.abs(eager - output).max())


def export(args):
    if not os.path.isfile(args.checkpoint):
        raise CliError(f"checkpoint {args.checkpoint!r} does not exist")
    if args.onnx and args.test_mode == "paper":
        raise CliError("--onnx supports --test-mode eval only (paddle2onnx cannot convert the paper mode's dropout)")
    if args.onnx:
        try:
            import paddle2onnx  # noqa: F401
        except ImportError:
            raise CliError("--onnx needs paddle2onnx, which is not installed: pip install paddle2onnx "
                           "(or pip install -e .[onnx])") from None
    select_device("cpu")
    net, cfg = checkpoint_generator(args.checkpoint, args.config)
    generator = cfg["model"]["generator"]
    multiple = generator_size_multiple(generator)
    size = args.check_size or multiple
    if size % multiple:
        raise CliError(f"--check-size must be a multiple of {multiple}, got {size}")
    test_mode = args.test_mode or cfg["model"]["test_mode"]
    if args.onnx and test_mode != "eval":
        raise CliError(f"--onnx supports the eval test mode only, and this checkpoint's model.test_mode is "
                       f"{test_mode}: add --test-mode eval")
    info = export_generator(net, cfg, args.output, test_mode)
    print(f"exported {generator['name']} ({generator['input_nc']}->{generator['output_nc']} channels, size multiple "
          f"{multiple}, test mode {test_mode}) to {args.output}: {info['model_file']}, {info['params_file']}, "
          f"{INFO_FILE}")
    if test_mode == "eval":
        difference = parity_check(net, info, size)
        print(f"parity check (Paddle Inference vs eager, 2x{size}x{size}): max abs difference {difference:.2e}")
        if not difference < TOLERANCE:
            raise CliError(f"the exported model differs from the eager network by {difference:.2e} "
                           f"(> {TOLERANCE:g}); please report this with your checkpoint's config")
    else:
        print("parity check skipped: paper mode draws random dropout masks on every run")
    if args.onnx:
        path = export_onnx(net, cfg, os.path.join(args.output, "generator.onnx"), test_mode, args.opset)
        print(f"wrote {path}")
        difference = onnx_parity(path, net, info, size)
        if difference is not None:
            print(f"parity check (ONNX Runtime vs eager, 1x{size}x{size}): max abs difference {difference:.2e}")
            if not difference < TOLERANCE:
                raise CliError(f"the ONNX model differs from the eager network by {difference:.2e} (> {TOLERANCE:g});"
                               f" check your paddle2onnx version against this Paddle version")
