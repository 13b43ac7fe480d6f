"""The built-in demo set: random crops of the photos bundled inside scikit-image's package (nothing is downloaded).

Crops at several scales (30-100 % of the region's shorter side) with random flips. Each photo is split by a vertical
line: training crops come from its left 70 %, test crops from its right 30 %, so no test pixel was seen in training
while the scenes stay the same kind (a few photos cannot teach a model what unseen scenes look like). Tasks:

- denoise: AB images, A (left) = the photo crop with strong Gaussian noise (sd 40 grey levels, drawn per image),
  B (right) = the clean crop -> train noisy -> clean with direction AtoB (configs/demo.yaml). Noise looks the same
  in every photo, so a few photos teach it;
- edges2photo: AB images, A (left) = edge map, B (right) = the photo -> train edges -> photo with direction AtoB.
"""
import importlib.util
import json
import os

import cv2
import numpy as np

from ..errors import DataError
from .image_io import read_image
from .prepare import as_rgb8, edge_map, side_by_side

PHOTOS = ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "chelsea.png", "coffee.png")
TRAIN_FRACTION = 0.7  # training crops from the left 70 % of each photo, test crops from the right 30 %
TASKS = {"denoise": "AtoB", "edges2photo": "AtoB"}
LAYOUTS = {"denoise": "A (left) = noisy photo, B (right) = clean photo",
           "edges2photo": "A (left) = edges, B (right) = photo"}
MANIFEST = "demo.json"
# Where tools/prepare_data.py demo writes each task's set, and the config that trains on it from there.
DEFAULT_FOLDERS = {"denoise": os.path.join("data", "demo"), "edges2photo": os.path.join("data", "demo_edges")}
CONFIGS = {"denoise": "configs/demo.yaml", "edges2photo": "configs/demo_edges.yaml"}
FORMAT = 2  # bump when the pairs a given set of parameters produces changes
MIN_SCALE = 0.3  # crops span 30 % .. 100 % of the region's shorter side
NOISE_SD = 40.0  # grey levels (of 255) of the denoise task's Gaussian noise
MIN_CONTRAST = 10.0  # gray standard deviation below which a crop is redrawn (flat sky, black background)


def skimage_data_dir():
    """Folder of the images bundled in the installed scikit-image package (found without importing it)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the demo set is made from photos bundled with scikit-image, which is not installed: "
                        "pip install scikit-image")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def bundled_photo(name):
    """A bundled scikit-image photo as RGB uint8; a missing file is an error (no download is attempted)."""
    path = os.path.join(skimage_data_dir(), name)
    if not os.path.isfile(path):
        raise DataError(f"scikit-image's bundled photo {path} is missing; reinstall scikit-image "
                        f"(pip install --force-reinstall scikit-image)")
    return as_rgb8(read_image(path))


def random_crop(photo, size, rng):
    """A square crop of random scale and position, randomly flipped, resized to ``size``; low-contrast crops are
    redrawn (up to 20 times)."""
    height, width = photo.shape[:2]
    for _ in range(20):
        side = int(rng.uniform(MIN_SCALE, 1.0) * min(height, width))
        top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        crop = photo[top:top + side, left:left + side]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
        if cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).std() >= MIN_CONTRAST:
            break
    return crop


def make_pair(task, photo, rng):
    """The AB image of one photo crop for ``task`` (see the module docstring for the layouts)."""
    if task == "denoise":
        noisy = np.clip(photo + rng.normal(0.0, NOISE_SD, photo.shape), 0, 255).round().astype(np.uint8)
        return side_by_side(noisy, photo)
    return side_by_side(edge_map(photo), photo)


def split_region(photo, split):
    """The part of ``photo`` a split draws its crops from: the left 70 % for train, the right 30 % for test."""
    cut = int(round(TRAIN_FRACTION * photo.shape[1]))
    return photo[:, :cut] if split == "train" else photo[:, cut:]


def demo_pairs(task, split, size, count, rng):
    """Yield ``count`` (file name, image) of ``split``: crops of each photo's region of that split in turn."""
    regions = {name: split_region(bundled_photo(name), split) for name in PHOTOS}
    for index in range(count):
        name = PHOTOS[index % len(PHOTOS)]
        crop = random_crop(regions[name], size, rng)
        yield f"{os.path.splitext(name)[0]}_{index:04d}.png", make_pair(task, crop, rng)


def demo_parameters(task, size, train_pairs, test_pairs, seed):
    """The parameters that define a demo set (validated), as stored in its manifest."""
    if task not in TASKS:
        raise DataError(f"unknown demo task {task!r}; choose one of {', '.join(TASKS)}")
    if size < 16:
        raise DataError(f"--size {size} is too small; use at least 16 (128 is the default)")
    if train_pairs < 1 or test_pairs < 1:
        raise DataError("--train-pairs and --test-pairs must be at least 1")
    return {"format": FORMAT, "task": task, "size": size, "train_pairs": train_pairs, "test_pairs": test_pairs,
            "seed": seed}


def manifest(parameters):
    """The demo.json content: parameters, the photos of each split, layout and direction."""
    return {**parameters, "photos": list(PHOTOS),
            "split": f"train: left {TRAIN_FRACTION:.0%} of each photo, test: the right {1 - TRAIN_FRACTION:.0%}",
            "layout": LAYOUTS[parameters["task"]], "direction": TASKS[parameters["task"]],
            "source": "photos bundled with scikit-image (skimage/data)"}


def _count(folder):
    from .dataset import list_images  # imports Paddle: only when a set is built or checked
    return len(list_images(folder)) if os.path.isdir(folder) and os.listdir(folder) else 0


def existing_demo(out, parameters):
    """True when ``out`` already holds the complete demo set of ``parameters``; False when it is absent or empty.

    A set made with other parameters, an incomplete set or a folder that is not a demo set is an error suggesting
    --overwrite.
    """
    if not os.path.isdir(out) or not os.listdir(out):
        return False
    path = os.path.join(out, MANIFEST)
    if not os.path.isfile(path):
        raise DataError(f"output folder {out} is not empty and holds no demo set ({MANIFEST} is missing); choose "
                        f"another --out or pass --overwrite to replace it")
    with open(path, encoding="utf-8") as handle:
        stored = json.load(handle)
    differing = [f"{key}={stored.get(key)} (asked {value})" for key, value in parameters.items()
                 if stored.get(key) != value]
    if differing:
        raise DataError(f"{out} holds a demo set made with other parameters: {', '.join(differing)}; pass "
                        f"--overwrite to rebuild it")
    counts = {"train": _count(os.path.join(out, "train")), "test": _count(os.path.join(out, "test"))}
    if counts != {"train": parameters["train_pairs"], "test": parameters["test_pairs"]}:
        raise DataError(f"the demo set in {out} is incomplete ({counts['train']} train / {counts['test']} test "
                        f"pairs, expected {parameters['train_pairs']} / {parameters['test_pairs']}); pass "
                        f"--overwrite to rebuild it")
    return True
