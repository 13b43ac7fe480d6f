"""Small synthetic paired data that looks like a labels->photo task (facade-like rectangles), made on the fly."""
import os

import cv2
import numpy as np

PALETTE = np.array([[0, 0, 170], [255, 85, 0], [0, 170, 255], [170, 255, 85], [255, 255, 0], [85, 0, 255]],
                   np.uint8)
PHOTO_COLORS = np.array([[90, 80, 70], [200, 170, 120], [60, 90, 140], [120, 150, 90], [230, 220, 180],
                         [150, 60, 60]], np.float32)


def make_pair(rng, height=64, width=64):
    """Return (photo, labels) uint8 RGB images: coloured label rectangles and a shaded 'photo' of them."""
    classes = np.zeros((height, width), np.int64)
    for _ in range(rng.randint(3, 7)):
        top, left = rng.randint(0, height - 8), rng.randint(0, width - 8)
        bottom, right = top + rng.randint(6, height // 2), left + rng.randint(6, width // 2)
        classes[top:bottom, left:right] = rng.randint(1, len(PALETTE))
    labels = PALETTE[classes]
    shading = np.linspace(0.8, 1.1, height, dtype=np.float32)[:, None, None]
    photo = PHOTO_COLORS[classes] * shading + rng.normal(0, 4, (height, width, 3)).astype(np.float32)
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255), (3, 3), 0).astype(np.uint8)
    return photo, labels


def write_ab_folder(folder, count, height=64, width=64, seed=0, ext=".png"):
    """Write ``count`` AB images (photo left = A, labels right = B, like facades) and return their paths."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    paths = []
    for index in range(count):
        photo, labels = make_pair(rng, height, width)
        path = os.path.join(folder, f"{index:03d}{ext}")
        cv2.imwrite(path, np.concatenate([photo, labels], axis=1)[:, :, ::-1])
        paths.append(path)
    return paths


def pair_batch(count, size=64, seed=0):
    """(labels, photo) float32 N x 3 x H x W batches in [-1, 1]: a labels->photo training batch."""
    rng = np.random.RandomState(seed)
    pairs = [make_pair(rng, size, size) for _ in range(count)]
    to_model = lambda image: image.transpose(2, 0, 1).astype(np.float32) / 127.5 - 1.0  # noqa: E731
    labels = np.stack([to_model(labels) for _, labels in pairs])
    photos = np.stack([to_model(photo) for photo, _ in pairs])
    return labels, photos


def smooth_image(height, width, seed=0):
    """A uint8 RGB image of a few slow sinusoidal waves per channel: smooth, but different everywhere."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.zeros((height, width, 3))
    for channel in range(3):
        for _ in range(4):
            frequency_y, frequency_x, phase = rng.uniform(1, 6), rng.uniform(1, 6), rng.uniform(0, 2 * np.pi)
            image[:, :, channel] += np.sin(2 * np.pi * (frequency_y * y + frequency_x * x) + phase)
    return ((image - image.min()) / (image.max() - image.min()) * 255).astype(np.uint8)
