"""Stack chosen input | output | target images (tools/infer.py --side-by-side) into one PNG for the README.

    python docs/make_results_grid.py RESULTS/side_by_side docs/results_facades.png --names 1 5 23 42
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from ppix2pix.data.image_io import read_image, write_image  # noqa: E402

import numpy as np  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="the side_by_side folder written by tools/infer.py --side-by-side")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("--names", nargs="+", required=True, help="image names without extension, top to bottom")
    parser.add_argument("--gap", type=int, default=4, help="white pixels between rows")
    args = parser.parse_args(argv)
    files = {os.path.splitext(name)[0]: os.path.join(args.folder, name) for name in os.listdir(args.folder)}
    missing = [name for name in args.names if name not in files]
    if missing:
        parser.error(f"not in {args.folder}: {', '.join(missing)}")
    rows = [read_image(files[name]) for name in args.names]
    gap = np.full((args.gap,) + rows[0].shape[1:], np.iinfo(rows[0].dtype).max, rows[0].dtype)
    grid = np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)
    write_image(args.output, grid)
    print(f"wrote {args.output}: {grid.shape[1]}x{grid.shape[0]}")


if __name__ == "__main__":
    main()
