"""Thin wrapper: see ppix2pix/cli/update_bn.py (installed as ppix2pix-update-bn)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppix2pix.cli.update_bn import main  # noqa: E402  (ppix2pix tunes the CPU runtime before Paddle loads)

if __name__ == "__main__":
    sys.exit(main())
