"""Learning-rate policies, stepped once per epoch: the paper's linear decay, step, cosine and plateau."""
from paddle.optimizer import lr as paddle_lr


def linear_decay_factor(epoch, start_epoch, decay_epochs):
    """lr factor for 0-based ``epoch``: 1 for the first ``start_epoch`` epochs, then linearly towards 0.

    Same rule as the reference: ``1 - max(0, epoch + 1 - start_epoch) / (decay_epochs + 1)``.
    """
    return 1.0 - max(0, epoch + 1 - start_epoch) / float(decay_epochs + 1)


def build_lr_scheduler(section, base_lr, total_epochs):
    """Build the paddle LRScheduler described by the ``lr_scheduler`` config section."""
    name = section["name"]
    if name == "LinearDecay":
        return paddle_lr.LambdaDecay(base_lr, lambda epoch: linear_decay_factor(
            epoch, section["start_epoch"], section["decay_epochs"]))
    if name == "StepDecay":
        return paddle_lr.StepDecay(base_lr, step_size=section["step_size"], gamma=section["gamma"])
    if name == "CosineAnnealingDecay":
        return paddle_lr.CosineAnnealingDecay(base_lr, T_max=max(1, total_epochs), eta_min=section["eta_min"])
    if name == "ReduceOnPlateau":
        return paddle_lr.ReduceOnPlateau(base_lr, mode="min", factor=section["factor"],
                                         patience=section["patience"], threshold=section["threshold"])
    raise ValueError(f"lr_scheduler.name: unknown policy {name!r}")


def step_lr_scheduler(scheduler, metric=None):
    """Advance a scheduler by one epoch; ReduceOnPlateau needs the validation metric (lower is better)."""
    if isinstance(scheduler, paddle_lr.ReduceOnPlateau):
        if metric is not None:
            scheduler.step(metric)
    else:
        scheduler.step()
