"""Shared sizes, seeds, hypothesis profile and input cases of the metric tests.

The tests compare every metric with an independent reference on small random inputs
whose values are drawn from a few levels, so that ties occur. Sizes stay small: the
whole folder runs in well under a minute on two cores.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("metrics", derandomize=True, deadline=None, print_blob=True, max_examples=40, database=None)
#: Settings of every hypothesis test of this folder (``@PROFILE`` on the test).
PROFILE = settings.get_profile("metrics")

#: Seed of every random input of this folder.
SEED = 20240601
#: Number of random cases each reference comparison runs over.
N_CASES = 25
#: Largest side of a random anomaly map in the reference comparisons.
MAX_SIDE = 9
#: Largest number of images, users, queries or rows in the reference comparisons.
MAX_ROWS = 6
#: Absolute tolerance against exact references (sums of a few hundred float64 terms).
ATOL = 1e-10
#: Tolerance of AUPRO against the official algorithm, as the issue requires.
AUPRO_ATOL = 1e-6


@pytest.fixture
def rng() -> np.random.Generator:
    """A generator seeded with :data:`SEED`, fresh for every test."""
    return np.random.default_rng(SEED)


def tied_values(rng: np.random.Generator, shape: tuple[int, ...], *, n_levels: int | None = None) -> np.ndarray:
    """Float64 values drawn from a few levels (2 to 6 unless given), so that ties are common."""
    n_levels = int(rng.integers(2, 7)) if n_levels is None else n_levels
    return rng.integers(0, n_levels, size=shape) / n_levels


def binary_with_both(rng: np.random.Generator, shape: tuple[int, ...], *, share: float = 0.3) -> np.ndarray:
    """A bool array with about ``share`` True values and at least one True and one False."""
    out = rng.random(shape) < share
    flat = out.reshape(-1)
    positive, negative = rng.choice(flat.size, size=2, replace=False)
    flat[positive], flat[negative] = True, False
    return out


def assert_close(got: float, expected: float, *, atol: float = ATOL, what: str = "") -> None:
    """Assert |got - expected| <= atol, printing both values."""
    assert isinstance(got, float), f"{what}: expected a Python float, got {type(got).__name__}"
    assert abs(got - expected) <= atol, f"{what}: got {got!r}, reference {expected!r}, diff {got - expected:.3e}"
