"""The running-statistics rule of batch normalization, shared by every batch-norm path (oneDNN, Paddle's kernels)."""
import paddle


def update_running_statistics(running_mean, running_var, batch_mean, batch_variance, count, momentum):
    """``running = momentum * running + (1 - momentum) * batch`` in place, with the batch variance made unbiased.

    ``batch_variance`` is the biased variance of ``count`` values per channel (what normalizes the batch); the
    running variance takes ``batch_variance * count / (count - 1)``, as PyTorch's BatchNorm does, so eval-mode outputs
    and exports match the reference. Paddle's own kernels store the biased one (4/3 too small at the U-Net's 2 x 2
    levels with batch 1). A single value per channel keeps its variance, 0.
    """
    correction = count / (count - 1) if count > 1 else 1.0
    with paddle.no_grad():
        running_mean.set_value(running_mean * momentum + batch_mean * (1.0 - momentum))
        running_var.set_value(running_var * momentum + batch_variance * ((1.0 - momentum) * correction))
