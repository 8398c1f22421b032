"""Tests of the learning-curve and speed-up-curve areas and of the harmonic mean."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import MetricInputError, curves

from .conftest import N_CASES, assert_close


def _reference_trapezoid_mean(x, y):
    """Mean height of the piecewise-linear curve, summed segment by segment."""
    area = 0.0
    for i in range(len(x) - 1):
        area += (x[i + 1] - x[i]) * (y[i] + y[i + 1]) / 2
    return area, area / (x[-1] - x[0])


@pytest.mark.parametrize("case", range(N_CASES))
def test_learning_curve_area(case):
    rng = np.random.default_rng([case, 60])
    n_labels = np.cumsum(rng.integers(1, 100, int(rng.integers(2, 12))))
    accuracies = rng.random(n_labels.size)
    area, mean = _reference_trapezoid_mean(n_labels, accuracies)
    assert_close(curves.area_under_learning_curve(n_labels, accuracies), mean)
    assert_close(curves.area_under_learning_curve(n_labels, accuracies, normalize=False), area, atol=1e-8)
    assert_close(float(np.trapezoid(accuracies, n_labels)), area, atol=1e-8)


@pytest.mark.parametrize("case", range(N_CASES))
def test_speedup_curve_sorts_by_speedup(case):
    rng = np.random.default_rng([case, 61])
    n = int(rng.integers(2, 10))
    speedups = rng.integers(1, 6, n) + rng.random(n)
    accuracies = rng.random(n)
    order = np.argsort(speedups, kind="stable")
    _, mean = _reference_trapezoid_mean(speedups[order], accuracies[order])
    assert_close(curves.area_under_speedup_curve(speedups, accuracies), mean)


def test_constant_accuracy_gives_that_accuracy():
    assert curves.area_under_learning_curve([10, 20, 80], [0.6, 0.6, 0.6]) == pytest.approx(0.6)
    assert curves.area_under_speedup_curve([1.0, 4.0], [0.9, 0.9]) == pytest.approx(0.9)


def test_harmonic_mean():
    assert curves.harmonic_mean(0.8, 0.6) == pytest.approx(2 * 0.8 * 0.6 / 1.4)
    assert curves.harmonic_mean(np.float32(70.0), 70.0) == pytest.approx(70.0)
    assert curves.harmonic_mean(0.0, 0.9) == 0.0
    assert curves.harmonic_mean(0.0, 0.0) == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: curves.area_under_learning_curve([10, 10, 30], [0.1, 0.2, 0.3]),
            r"strictly increasing; got 10.0 then 10.0 at rounds 0 and 1",
            id="not-increasing",
        ),
        pytest.param(lambda: curves.area_under_learning_curve([10], [0.1]), r"at least 2 points", id="one-point"),
        pytest.param(lambda: curves.area_under_learning_curve([1, 2], [0.1, np.nan]), r"got nan", id="nan"),
        pytest.param(lambda: curves.area_under_speedup_curve([1.0, 0.0], [0.1, 0.2]), r"> 0; got 0.0", id="zero"),
        pytest.param(
            lambda: curves.area_under_speedup_curve([2.0, 2.0], [0.1, 0.2]), r"single value \(2.0\)", id="flat"
        ),
        pytest.param(lambda: curves.harmonic_mean(-0.1, 0.5), r"`base` of harmonic_mean must be >= 0", id="negative"),
        pytest.param(lambda: curves.harmonic_mean([0.1, 0.2], 0.5), r"single number; got shape \(2,\)", id="vector"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
