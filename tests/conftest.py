"""Shared fixtures: tiny network settings and synthetic paired data."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

import ppix2pix  # noqa: E402,F401  (tunes the CPU runtime before Paddle loads)
import synthetic  # noqa: E402

# A U-Net with 6 downsamplings (64x64 inputs), 16 base filters and a 16-filter PatchGAN: seconds per dozen steps.
TINY_MODEL = ["model.generator.num_downs=6", "model.generator.ngf=16", "model.discriminator.ndf=16"]
SHARED_DATA = os.environ.get("PPIX2PIX_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))


@pytest.fixture
def tiny_overrides():
    """Config overrides for a network small enough for unit tests on 64x64 images."""
    return list(TINY_MODEL)


@pytest.fixture
def ab_folder(tmp_path):
    """A folder of 12 synthetic 64x64 AB pairs (A = photo, B = labels, as in facades)."""
    folder = tmp_path / "ab"
    synthetic.write_ab_folder(str(folder), 12)
    return str(folder)


@pytest.fixture
def shared_data():
    """``shared_data(name)``: path of a real dataset under ../shared/data, skipping the test when it is absent."""
    def locate(name):
        path = os.path.join(SHARED_DATA, name)
        if not os.path.isdir(path):
            pytest.skip(f"real data {path} not found (set PPIX2PIX_SHARED_DATA)")
        return path
    return locate
