"""Thin wrapper: see ppix2pix/cli/demo.py (installed as ppix2pix-demo)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppix2pix.cli.demo import main  # noqa: E402  (ppix2pix tunes the CPU runtime before Paddle loads)

if __name__ == "__main__":
    sys.exit(main())
