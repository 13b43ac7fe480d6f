"""Data-parallel training across processes started by ``python -m paddle.distributed.launch``.

Every rank holds the full model and a disjoint share of each epoch. After each backward pass the gradients are
averaged across ranks (so every rank applies the same update and the weights stay identical), and parameters are
broadcast from rank 0 once at the start. Works on GPUs (NCCL) and on CPUs (gloo).
"""
import os

import numpy as np
import paddle
import paddle.distributed as dist


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
