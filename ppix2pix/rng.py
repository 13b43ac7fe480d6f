"""The random state of a training run: seeding, and capturing/restoring Paddle's, NumPy's and Python's generators.

A checkpoint stores :func:`rng_state` so that a resumed run draws the same numbers as an uninterrupted one, and
validation brackets its seeded dropout with :func:`rng_state` / :func:`set_rng_state` so training randomness is
untouched by it.
"""
import random

import numpy as np
import paddle


def rng_state():
    """The states of Paddle's, NumPy's and Python's global generators, as a checkpoint stores them."""
    return {"paddle": paddle.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def set_rng_state(state):
    """Put back the generator states taken by :func:`rng_state`."""
    paddle.set_rng_state(state["paddle"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def seed_everything(seed):
    """Seed Paddle's, NumPy's and Python's global generators with ``seed``."""
    paddle.seed(seed)
    np.random.seed(seed % 2 ** 32)
    random.seed(seed)


def training_seed(seed, rank):
    """Seed of the training-time random stream (dropout) of process ``rank``.

    Distinct from ``seed``, which draws the initial weights: re-seeding the generator with the same value would make
    the dropout masks replay the very numbers the weights were drawn from (the sign pattern of the first layers'
    initial weights).
    """
    return int(np.random.SeedSequence([seed, rank, 1]).generate_state(1)[0])
