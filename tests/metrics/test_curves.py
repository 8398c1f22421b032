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


def _reference_best_points(speedups, accuracies):
    """Operating points with equal speed-ups merged into their best accuracy, sorted, by a plain loop."""
    best = {}
    for s, a in zip(speedups, accuracies, strict=True):
        best[float(s)] = max(best.get(float(s), -np.inf), float(a))
    keys = sorted(best)
    return keys, [best[k] for k in keys]


def _reference_curve_at(xs, ys, x):
    """Value of the piecewise-linear curve through (xs, ys) at x, found segment by segment."""
    for i in range(len(xs)):
        if xs[i] == x:
            return ys[i]
    for i in range(len(xs) - 1):
        if xs[i] < x < xs[i + 1]:
            return ys[i] + (x - xs[i]) / (xs[i + 1] - xs[i]) * (ys[i + 1] - ys[i])
    raise AssertionError("outside the curve")


def _reference_speedup_at(xs, ys, target):
    """Largest x with curve(x) >= target: every vertex and every segment crossing, by a plain loop."""
    best = None
    for i in range(len(xs)):
        if ys[i] >= target:
            best = xs[i] if best is None else max(best, xs[i])
    for i in range(len(xs) - 1):
        if (ys[i] >= target) != (ys[i + 1] >= target):
            crossing = xs[i] + (target - ys[i]) / (ys[i + 1] - ys[i]) * (xs[i + 1] - xs[i])
            best = crossing if best is None else max(best, crossing)
    return best


def _tied_curve(rng):
    n = int(rng.integers(1, 9))
    speedups = rng.integers(1, 5, n) + rng.integers(0, 3, n) / 4  # few levels: equal speed-ups are common
    accuracies = rng.integers(0, 5, n) / 4  # few levels: ties with the target are common
    return speedups, accuracies


@pytest.mark.parametrize("case", range(N_CASES))
def test_accuracy_at_speedup_matches_the_slow_curve(case):
    rng = np.random.default_rng([case, 62])
    speedups, accuracies = _tied_curve(rng)
    xs, ys = _reference_best_points(speedups, accuracies)
    queries = [*xs, *rng.uniform(xs[0], xs[-1], 4)]
    for x in queries:
        got = curves.accuracy_at_speedup(speedups, accuracies, speedup=x)
        assert_close(got, _reference_curve_at(xs, ys, x), atol=1e-12, what=f"at {x}")


@pytest.mark.parametrize("case", range(N_CASES))
def test_speedup_at_accuracy_matches_the_slow_curve(case):
    rng = np.random.default_rng([case, 63])
    speedups, accuracies = _tied_curve(rng)
    xs, ys = _reference_best_points(speedups, accuracies)
    for target in [*ys, *rng.uniform(0, max(ys), 3)]:
        got = curves.speedup_at_accuracy(speedups, accuracies, accuracy=target)
        assert_close(got, _reference_speedup_at(xs, ys, target), atol=1e-12, what=f"target {target}")
        grid = [*np.linspace(xs[0], xs[-1], 2001), *xs]
        reached = [x for x in grid if _reference_curve_at(xs, ys, float(x)) >= target - 1e-12]
        assert got >= max(reached) - 1e-12  # the grid cannot see past the exact answer


def _reference_range_mean(xs, ys, low, high):
    """Mean over [low, high] of the curve (0 past its last point), summed exactly segment by segment."""
    knots = sorted({low, high, *[x for x in xs if low < x < high], *([xs[-1]] if low < xs[-1] < high else [])})
    area = 0.0
    for a, b in zip(knots[:-1], knots[1:], strict=True):
        fa = _reference_curve_at(xs, ys, a) if a <= xs[-1] else 0.0
        fb = _reference_curve_at(xs, ys, b) if b <= xs[-1] else 0.0
        if a >= xs[-1]:
            fa = fb = 0.0
        area += (b - a) * (fa + fb) / 2
    return area / (high - low)


@pytest.mark.parametrize("case", range(N_CASES))
def test_area_over_a_fixed_speedup_range_matches_the_slow_curve(case):
    rng = np.random.default_rng([case, 64])
    speedups, accuracies = _tied_curve(rng)
    speedups, accuracies = np.append(speedups, 1.0), np.append(accuracies, rng.integers(0, 5) / 4)
    xs, ys = _reference_best_points(speedups, accuracies)
    for high in (1.5, 2.0, 3.0, 6.5):
        got = curves.area_under_speedup_range(speedups, accuracies, low=1.0, high=high)
        assert_close(got, _reference_range_mean(xs, ys, 1.0, high), atol=1e-12, what=f"high {high}")


def test_a_fixed_range_scores_a_short_curve_by_its_share():
    assert curves.area_under_speedup_range([1.0, 1.2], [0.9, 0.9], low=1.0, high=3.0) == pytest.approx(0.09)
    assert curves.area_under_speedup_range([1.0, 4.0], [0.9, 0.9], low=1.0, high=3.0) == pytest.approx(0.9)
    with pytest.raises(MetricInputError, match=r"starts at 1.5, above the range's start 1"):
        curves.area_under_speedup_range([1.5, 2.0], [0.9, 0.8], low=1.0, high=3.0)
    with pytest.raises(MetricInputError, match=r"must be finite with low < high; got 2.0 and 1.0"):
        curves.area_under_speedup_range([1.0, 2.0], [0.9, 0.8], low=2.0, high=1.0)


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
        pytest.param(
            lambda: curves.accuracy_at_speedup([1.0, 1.8], [0.9, 0.7], speedup=2.0),
            r"`speedup` of accuracy_at_speedup is 2.0, outside the curve's speed-up range \[1, 1.8\]; the curve "
            r"does not reach it",
            id="beyond-curve",
        ),
        pytest.param(
            lambda: curves.accuracy_at_speedup([1.2, 1.8], [0.9, 0.7], speedup=1.0),
            r"outside the curve's speed-up range",
            id="before-curve",
        ),
        pytest.param(
            lambda: curves.speedup_at_accuracy([1.0, 2.0], [0.8, 0.7], accuracy=0.85),
            r"No operating point given to speedup_at_accuracy reaches accuracy 0.85; the best is 0.8",
            id="unreachable-accuracy",
        ),
        pytest.param(
            lambda: curves.speedup_at_accuracy([1.0, -2.0], [0.8, 0.7], accuracy=0.5), r"> 0; got -2.0 at index 1",
            id="negative-speedup",
        ),
        pytest.param(lambda: curves.harmonic_mean(-0.1, 0.5), r"`base` of harmonic_mean must be >= 0", id="negative"),
        pytest.param(lambda: curves.harmonic_mean([0.1, 0.2], 0.5), r"single number; got shape \(2,\)", id="vector"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
