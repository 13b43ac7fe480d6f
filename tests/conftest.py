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


def make_tiny_checkpoint(path, overrides=()):
    """Write a freshly initialized tiny generator (seed 0) with its config to ``path`` (overrides applied after
    :data:`TINY_MODEL`); returns ``path``."""
    import paddle

    from ppix2pix.checkpoint import save_checkpoint
    from ppix2pix.config import load_config
    from ppix2pix.pix2pix import Pix2PixModel
    paddle.seed(0)
    cfg = load_config(None, TINY_MODEL + list(overrides))
    save_checkpoint({"netG": Pix2PixModel(cfg, is_train=False).netG.state_dict(), "config": cfg}, str(path))
    return str(path)


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """``tiny_checkpoint(*overrides)``: :func:`make_tiny_checkpoint` into ``tmp_path``."""
    made = []

    def make(*overrides):
        made.append(make_tiny_checkpoint(tmp_path / f"tiny_{len(made)}.pdparams", overrides))
        return made[-1]
    return make


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
