"""CPU acceleration of the plain networks, applied from outside: :func:`accelerate` swaps layers for fast forms.

The networks (:mod:`ppix2pix.networks`) know nothing of this package; the model builder (:mod:`ppix2pix.build`)
calls :func:`accelerate` on every network it builds. Without it (or with ``PPIX2PIX_PLAIN_LAYERS=1``) the toolkit
works the same, only slower on CPU.

* :func:`recorded_backward`: the block in which the oneDNN convs record backward nodes (the training step).
* :func:`plain_layers`: the block in which every layer runs its plain Paddle form (double backward).
"""
from .apply import accelerate
from .layers import fast_layers_enabled, fast_layers_summary, plain_layers
from .onednn import recorded_backward

__all__ = ["accelerate", "fast_layers_enabled", "fast_layers_summary", "plain_layers", "recorded_backward"]
