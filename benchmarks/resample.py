"""Speed and agreement of the training resize: ppix2pix's (Pillow, data/resample.py) against OpenCV's filters.

For the halves of real AB pairs (default: the first 50 of ../shared/data/facades/train), resized 256 -> 286 / 143 /
128 as pix2pix's preprocessing does, prints one JSON line per (size, method): ms per half, and the mean and max
absolute difference in 8-bit levels from the reference's ``PIL.Image.resize(..., BICUBIC)``::

    python benchmarks/resample.py [DATA_DIR]
"""
import glob
import json
import os
import sys
import time

import cv2
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from ppix2pix.data.image_io import read_image  # noqa: E402
from ppix2pix.data.resample import resize  # noqa: E402

METHODS = {
    "ppix2pix (Pillow bicubic)": lambda image, size: resize(image, size, size, "bicubic"),
    "OpenCV INTER_CUBIC": lambda image, size: cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC),
    "OpenCV INTER_AREA": lambda image, size: cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA),
}


def main(data_dir=os.path.join(HERE, "..", "..", "shared", "data", "facades", "train"), count=50):
    halves = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.jpg")))[:count]:
        image = read_image(path)
        width = image.shape[1] // 2
        halves += [np.ascontiguousarray(image[:, :width]), np.ascontiguousarray(image[:, width:])]
    for size in (286, 143, 128):
        references = [np.asarray(Image.fromarray(half).resize((size, size), Image.BICUBIC)) for half in halves]
        for name, method in METHODS.items():
            start = time.perf_counter()
            outputs = [method(half, size) for half in halves]
            elapsed = time.perf_counter() - start
            differences = np.concatenate([np.abs(out.astype(np.int16) - ref).ravel()
                                          for out, ref in zip(outputs, references)])
            print(json.dumps({"size": f"{halves[0].shape[1]} -> {size}", "method": name,
                              "ms_per_half": round(1000 * elapsed / len(halves), 3),
                              "mean_abs_diff_from_reference": round(float(differences.mean()), 4),
                              "max_abs_diff_from_reference": int(differences.max())}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
