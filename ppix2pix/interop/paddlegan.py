"""Write a ppix2pix checkpoint's networks as a PaddleGAN pix2pix weights file.

PaddleGAN saves weights as a protocol-2 pickle of ``{'netG': {name: ndarray}, 'netD': {...}}`` and reads them with
``pickle.load``; this writes the same, in PaddleGAN's key layout (see :mod:`.layouts`). The generator must convert
exactly; the discriminator is left out, with a note, when PaddleGAN's version of it cannot hold its weights.
"""
import pickle

from ..checkpoint import write_atomically
from ..config import checkpoint_config
from ..errors import CheckpointError
from .layouts import SECTIONS, to_paddlegan


def paddlegan_networks(state, source):
    """``({'netG': ..., 'netD': ...}, notes)``: the networks of a ppix2pix checkpoint dict in PaddleGAN's layout,
    and why a discriminator was left out."""
    cfg = checkpoint_config(state, source)
    if "netG" not in state:
        raise CheckpointError(f"{source} has no generator weights (no 'netG' key)")
    networks, notes = {}, []
    for role in ("netG", "netD"):
        if role not in state:
            continue
        try:
            networks[role] = to_paddlegan(state[role], cfg["model"][SECTIONS[role]], role)
        except CheckpointError as error:
            if role == "netG":
                raise CheckpointError(f"{source}: cannot write the generator in PaddleGAN's layout: {error}") from None
            notes.append(f"discriminator left out: {error}")
    return networks, notes


def save_paddlegan(state, path, source="checkpoint"):
    """Write the networks of a ppix2pix checkpoint dict to ``path`` as PaddleGAN weights; returns the notes."""
    networks, notes = paddlegan_networks(state, source)
    write_atomically(pickle.dumps(networks, protocol=2), path)
    return notes
