"""Train pix2pix: python tools/train.py -c configs/facades.yaml [-o key=value ...] [--resume auto]."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppix2pix.cli.train import main  # noqa: E402  (ppix2pix must load before Paddle: it sets CPU threads)

if __name__ == "__main__":
    sys.exit(main())
