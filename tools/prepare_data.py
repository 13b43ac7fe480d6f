"""Prepare paired data: python tools/prepare_data.py {combine,edges,gray,split,demo,check} ... (--help on each)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppix2pix.cli.prepare_data import main  # noqa: E402  (ppix2pix must load before Paddle: it sets CPU threads)

if __name__ == "__main__":
    sys.exit(main())
