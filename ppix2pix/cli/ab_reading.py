"""Whether tools/infer.py reads its inputs as AB pair images (A left, B right) or as whole images, and why.

Only what is known decides, never one image's shape alone: ``--ab`` / ``--no-ab``; else the layout of the data the
checkpoint was trained on (its stored config); else the inputs themselves. A checkpoint trained on AB images
(``dataset.train.dataroot``, the layout of PaddleGAN's and the official pix2pix, whose converted weights carry no
data folders) reads AB pairs only from several inputs that are all exactly twice as wide as tall; one 2:1 image alone
may as well be a wide photo, and is translated whole. A checkpoint trained on separate A and B images (``dataroot_a``
/ ``dataroot_b`` or ``pair_list``) reads whole images.
"""
from ..data.image_io import image_size
from ..errors import CliError
from .common import BAD_INPUT_ERRORS

AB_HINT = "pass --no-ab to translate whole images"
WHOLE_HINT = "pass --ab to read them as AB pairs"


def trained_on_ab_images(cfg):
    """Whether the checkpoint's training data were AB pair images (not separate A and B files)."""
    section = cfg["dataset"]["train"]
    return not (section.get("dataroot_a") or section.get("dataroot_b") or section.get("pair_list"))


def first_not_two_to_one(items, fail_fast):
    """The first readable input that is not exactly twice as wide as tall, as 'path (WxH)', else None; unreadable
    inputs are reported when their turn comes (with ``fail_fast`` the first one stops the run here)."""
    for path, _ in items:
        try:
            height, width = image_size(path)
        except BAD_INPUT_ERRORS:
            if fail_fast:
                raise
            continue
        if width != 2 * height:
            return f"{path} ({width}x{height})"
    return None


def decide_pairs(args, translator, items):
    """(pairs, reason): whether the inputs are AB pairs, and the sentence infer prints to say so and why."""
    if translator.color_space == "lab":
        if args.ab:
            raise CliError("colorization models read single colour images (L in, ab out); drop --ab")
        return False, "inputs read as colour images (colorization: L in, ab out)"
    if args.ab is not None:
        return args.ab, ("inputs read as AB pairs (--ab)" if args.ab else "inputs read as whole images (--no-ab)")
    if not trained_on_ab_images(translator.cfg):
        return False, f"inputs read as whole images (checkpoint trained on separate A and B images); {WHOLE_HINT}"
    odd = first_not_two_to_one(items, args.fail_fast)
    if odd:
        return False, f"inputs read as whole images (not every image is 2:1: {odd}); {WHOLE_HINT}"
    if len(items) < 2:
        return False, ("input read as a whole image (one 2:1 image alone does not show an AB layout); pass --ab "
                       "to read it as an AB pair")
    return True, f"inputs read as AB pairs (checkpoint trained on AB pairs, every image 2:1); {AB_HINT}"
