"""tools/demo.py: a local web page that translates images with a checkpoint, interactively.

Open an image (upload, paste or drop it) or draw the input on a canvas, and the output appears beside it with a
download link. Label-map models get one brush per palette colour, edge models a black pen on white; every canvas has
an eraser, fill, undo and clear. The Translate button updates the output on demand; while drawing it also updates
after each stroke when the last translation took under a second. The page shows the model's direction, size
multiple and test-time mode. It is one HTML file served by Python's standard library: nothing is fetched from the
internet.
"""
import argparse

from ..choices import SIZE_MODES, TEST_MODES
from .common import run_cli

PALETTE_HELP = ("what the canvas paints with: 'facades' or 'cityscapes' (one brush per label colour), 'edges' (black "
                "pen on white), 'free' (any colour) or a palette file (YAML/JSON: classes: {name: [r, g, b]}). "
                "Default: from the checkpoint's dataset folder: edges2* -> edges; facades or cityscapes read "
                "labels -> photo (BtoA) -> their palette; otherwise free")


def build_parser():
    parser = argparse.ArgumentParser(description="Interactive web demo of a trained pix2pix generator.",
                                     epilog="The server listens on 127.0.0.1 (this machine only) unless --host says "
                                            "otherwise; stop it with Ctrl-C.")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file (its config rebuilds the generator)")
    parser.add_argument("--config", help="training config, only for weights-only checkpoints without one")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860; 0: any free port)")
    parser.add_argument("--palette", help=PALETTE_HELP)
    parser.add_argument("--canvas-size", type=int,
                        help="side of the square drawing canvas in pixels (default: the config's dataset.test "
                             "crop_size)")
    parser.add_argument("--size-mode", choices=SIZE_MODES, default="pad",
                        help="bring any size to the generator's multiple by reflect padding (default) or resizing")
    parser.add_argument("--test-mode", choices=TEST_MODES,
                        help="test-time mode (default: the checkpoint's model.test_mode)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the paper-mode dropout, drawn again for every translation (default 0)")
    parser.add_argument("--device", choices=("cpu", "gpu"), help="default: the GPU when there is one")
    parser.add_argument("--max-side", type=int, default=2048,
                        help="largest width or height of an image the page accepts (default 2048), checked from "
                             "the file header before decoding")
    parser.add_argument("--max-upload-mb", type=float, default=20.0,
                        help="largest upload in MB (default 20)")
    parser.add_argument("--live-seconds", type=float, default=1.0,
                        help="translate after every stroke while the last translation took under this many seconds "
                             "(default 1; 0 turns live updates off)")
    return parser


def main(argv=None):
    """Entry point of tools/demo.py and ppix2pix-demo; returns the exit code (2 on a user error, such as a port in
    use or an unusable checkpoint)."""
    args = build_parser().parse_args(argv)
    from .demo_run import serve  # Paddle loads here, once the arguments are parsed
    return run_cli(serve, args)


if __name__ == "__main__":
    raise SystemExit(main())
