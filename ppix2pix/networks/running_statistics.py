"""Re-estimating the BatchNorm running statistics of a trained network ("precise BN").

Training folds each batch into the running statistics with momentum 0.1, so they remember about the last 20 steps.
With batch 1 the U-Net's inner levels normalize 2 x 2 maps, each step's variance rests on 4 values per channel, and
those averages swing from step to step: the same weights can score well or badly in eval mode depending on the step
training stopped at (``benchmarks/eval_mode_trace.py`` measures it, in the PyTorch reference as well). Averaging the
same per-batch statistics evenly over many batches, with the final weights, removes the swing without changing what
eval mode estimates.
"""
import paddle

from .inference_mode import batch_norm_layers, restored_modes


def reestimate_running_statistics(net, batches):
    """Replace the running mean and variance of every BatchNorm of ``net`` by the plain average over ``batches``
    (input tensors) of what a training step folds into them: the batch mean and the unbiased batch variance.

    The forwards run as in training (dropout on, batch statistics) without gradients; the weights are not changed,
    and the layers' modes and momenta are restored afterwards. Returns the number of batches used; raises ValueError
    when ``net`` has no BatchNorm or ``batches`` is empty.
    """
    if not batch_norm_layers(net):
        raise ValueError("the network has no BatchNorm layer, so it keeps no running statistics to re-estimate")
    count = 0
    with restored_modes(net) as norms, paddle.no_grad():
        net.train()
        for layer in norms:  # the first batch replaces them (momentum 0); a broken old value must not leak in
            layer._mean.set_value(paddle.zeros_like(layer._mean))
            layer._variance.set_value(paddle.ones_like(layer._variance))
        for batch in batches:
            for layer in norms:
                layer._momentum = count / (count + 1.0)  # running = (count * running + batch) / (count + 1)
            net(batch)
            count += 1
    if count == 0:
        raise ValueError("no batches to re-estimate the running statistics from")
    return count
