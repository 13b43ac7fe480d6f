"""Choosing the Paddle device for training and inference."""
import os

import paddle

from .errors import DeviceError

DEVICES = ("auto", "cpu", "gpu")


def gpu_available():
    """True when this Paddle build has CUDA and the machine has a GPU."""
    return paddle.device.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def select_device(choice="auto"):
    """Set Paddle's device for 'auto' (GPU when available), 'cpu' or 'gpu' and return 'cpu' or 'gpu'.

    Processes started by paddle.distributed.launch use the GPU of their local rank.
    """
    if choice not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, got {choice!r}")
    has_gpu = gpu_available()
    if choice == "gpu" and not has_gpu:
        raise DeviceError("a GPU was requested but this Paddle build or machine has no CUDA GPU; install "
                          "paddlepaddle-gpu, or choose the CPU (-o device=cpu / --device cpu)")
    device = "gpu" if has_gpu and choice != "cpu" else "cpu"
    paddle.set_device(f"gpu:{os.environ.get('PADDLE_LOCAL_RANK', '0')}" if device == "gpu" else "cpu")
    return device
