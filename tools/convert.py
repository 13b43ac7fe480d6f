"""Convert pix2pix weights: python tools/convert.py --from pytorch|paddlegan IN --out OUT.pdparams [--netG ...],
or --to paddlegan IN --out OUT.pdparams (see ppix2pix/cli/convert.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppix2pix.cli.convert import main  # noqa: E402  (ppix2pix must load before Paddle: it sets CPU threads)

if __name__ == "__main__":
    sys.exit(main())
