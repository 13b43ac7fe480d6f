"""Data-parallel training across processes started by ``python -m paddle.distributed.launch``.

Every rank holds the full model and a disjoint share of each epoch. After each backward pass the gradients are
averaged across ranks (so every rank applies the same update and the weights stay identical), and parameters are
broadcast from rank 0 once at the start. Works on GPUs (NCCL) and on CPUs (gloo). The set-up of a model for
data-parallel and mixed-precision training lives here too (:func:`setup_data_parallel`, :func:`setup_amp`).
"""
import logging
import os

import numpy as np
import paddle
import paddle.distributed as dist

logger = logging.getLogger("ppix2pix")


def launched_world_size():
    """Number of processes the launcher started (1 when not launched)."""
    return int(os.environ.get("PADDLE_TRAINERS_NUM", "1"))


def init_distributed():
    """Join the process group when launched; return (rank, world_size)."""
    if launched_world_size() <= 1:
        return 0, 1
    dist.init_parallel_env()
    return dist.get_rank(), dist.get_world_size()


def broadcast_parameters(net):
    """Copy rank 0's parameters and buffers (BN statistics included) to every rank."""
    for tensor in list(net.parameters()) + list(net.buffers()):
        dist.broadcast(tensor, src=0)


def average_gradients(parameters, world_size):
    """All-reduce the gradients of ``parameters`` to their mean over ranks (call between backward and step)."""
    with paddle.no_grad():
        for parameter in parameters:
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad.scale_(1.0 / world_size)


def average_statistics(nets, world_size):
    """Replace every rank's BatchNorm running statistics by their mean over ranks (before saving)."""
    with paddle.no_grad():
        for net in nets:
            for name, tensor in net.named_parameters():
                if name.endswith(("_mean", "_variance")):
                    dist.all_reduce(tensor)
                    tensor.scale_(1.0 / world_size)


def broadcast_object(value):
    """Rank 0's value of a picklable object on every rank."""
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def barrier(world_size):
    """Wait for all ranks (no-op for a single process)."""
    if world_size > 1:
        dist.barrier()


def convert_sync_batchnorm(net):
    """Replace BatchNorm layers by SyncBatchNorm (statistics over the global batch; GPU only in Paddle)."""
    return paddle.nn.SyncBatchNorm.convert_sync_batchnorm(net)


def gather_fingerprints(nets):
    """Per rank, a vector of float64 sums (plain and absolute) of every parameter and buffer of ``nets``."""
    values = []
    for net in nets:
        for tensor in list(net.parameters()) + list(net.buffers()):
            array = tensor.numpy().astype(np.float64)
            values += [array.sum(), np.abs(array).sum()]
    gathered = []
    dist.all_gather_object(gathered, np.array(values))
    return gathered


def any_rank(flag, world_size):
    """Whether ``flag`` is true on any rank; every rank gets the same answer (so all stop at the same step)."""
    if world_size == 1:
        return flag
    tensor = paddle.to_tensor([int(flag)], dtype="int32")
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.numpy()[0])


def setup_data_parallel(model, cfg, device, world_size):
    """Make a Pix2PixModel train data-parallel on ``world_size`` ranks (nothing to do for one process).

    Optionally converts BatchNorm to SyncBatchNorm (GPU only), copies rank 0's weights to every rank and averages
    the gradients after each backward pass, so every rank applies the same update.
    """
    if world_size <= 1:
        return
    if cfg["sync_bn"]:
        if device != "gpu":
            logger.warning("sync_bn needs GPUs; each CPU process keeps its own BatchNorm statistics")
        else:
            model.netG = convert_sync_batchnorm(model.netG)
            model.netD = convert_sync_batchnorm(model.netD)
    for net in model.nets.values():
        broadcast_parameters(net)
    model.gradient_hook = lambda params: average_gradients(params, world_size)
    logger.info("data parallel on %d processes: global batch %d", world_size,
                world_size * cfg["dataset"]["train"]["batch_size"])


def setup_amp(model, cfg, device):
    """Switch a Pix2PixModel to mixed precision when ``cfg["amp"]`` asks for it and the device is a GPU."""
    if not cfg["amp"]:
        return
    if device == "gpu":
        model.enable_amp(cfg["amp_dtype"])
        logger.info("mixed precision on (%s, dynamic loss scaling)", cfg["amp_dtype"])
    else:
        logger.warning("amp is ignored on CPU: training in float32")
