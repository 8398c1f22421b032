"""Summaries of whole curves: learning curves, accuracy against speed-up, harmonic mean.

Learning curves come from active learning, accuracy / speed-up curves from early-exit
models, and the harmonic mean of base and novel accuracy from prompt learning.

Each area is a trapezoid integral divided by the width of the x-range, so it is the mean
height of the curve and lies in the range of the accuracies (e.g. [0, 1]). Curves of two
methods are only comparable over the same x-range (the same label budgets or speed-ups):
the functions do not extrapolate. Higher is better for every metric here.

Reading an accuracy / speed-up curve at one point (:func:`accuracy_at_speedup`,
:func:`speedup_at_accuracy`) uses the piecewise-linear curve through the operating points
sorted by speed-up, where points with the same speed-up count once, with the best of their
accuracies (the best operating point at that speed). A point the curve does not reach is an
error that says so, not a value. :func:`area_under_speedup_range` reads the same curve over a
fixed speed-up range shared by every method, counting 0 past the curve's fastest point.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim, check_same_shape

__all__ = [
    "accuracy_at_speedup",
    "area_under_learning_curve",
    "area_under_speedup_curve",
    "area_under_speedup_range",
    "harmonic_mean",
    "speedup_at_accuracy",
]


def _curve_validate(x: Any, y: Any, names: tuple[str, str], caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Check two finite 1-D arrays of the same length with at least 2 points; return float64 arrays."""
    x, y = as_array(x, names[0], caller), as_array(y, names[1], caller)
    check_ndim(x, names[0], caller, 1, "(n_points,)")
    check_ndim(y, names[1], caller, 1, "(n_points,)")
    check_same_shape(x, y, names, caller)
    check_finite(x, names[0], caller)
    check_finite(y, names[1], caller)
    if x.size < 2:
        msg = f"Arguments of {caller} must hold at least 2 points of the curve; got {x.size}."
        raise MetricInputError(msg)
    return x.astype(np.float64), y.astype(np.float64)


def _curve_compute(x: np.ndarray, y: np.ndarray, *, normalize: bool) -> float:
    """Trapezoid area under y(x) for x sorted ascending, divided by the x-range when ``normalize``."""
    area = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return area / float(x[-1] - x[0]) if normalize else area


def area_under_learning_curve(
    n_labels: Any, accuracies: Any, *, normalize: bool = True, validate: bool = True
) -> float:
    """Area under an active-learning curve of accuracy against the number of labels.

    Args:
        n_labels: int or float array of shape (n_rounds,), labels used at each round,
            strictly increasing.
        accuracies: float array of shape (n_rounds,), test accuracy after each round.
        normalize: Divide the trapezoid area by ``n_labels[-1] - n_labels[0]``, which makes
            the result the mean accuracy over the budget, in the range of the accuracies.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The (normalised) area, as a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value, fewer than 2 rounds or
            label counts that do not strictly increase.

    Example:
        >>> area_under_learning_curve([100, 200, 400], [0.5, 0.7, 0.8])
        0.7
    """
    caller = "area_under_learning_curve"
    if validate:
        n_labels, accuracies = _curve_validate(n_labels, accuracies, ("n_labels", "accuracies"), caller)
        step = np.diff(n_labels)
        if (step <= 0).any():
            i = int(np.flatnonzero(step <= 0)[0])
            msg = (
                f"Argument `n_labels` of {caller} must be strictly increasing; got {n_labels[i]} then "
                f"{n_labels[i + 1]} at rounds {i} and {i + 1}. Pass the rounds in the order they ran."
            )
            raise MetricInputError(msg)
    else:
        n_labels = as_array(n_labels, "n_labels", caller).astype(np.float64)
        accuracies = as_array(accuracies, "accuracies", caller).astype(np.float64)
    return _curve_compute(n_labels, accuracies, normalize=normalize)


def area_under_speedup_curve(speedups: Any, accuracies: Any, *, normalize: bool = True, validate: bool = True) -> float:
    """Area under the accuracy / speed-up curve of an early-exit model.

    Each point is one operating point (e.g. one exit threshold): its speed-up over the full
    model (measured wall time, or FLOPs of the full model over mean FLOPs per sample for the
    FLOPs curve) and its accuracy. The points are sorted by speed-up (points with the same
    speed-up keep their order and form a vertical step), joined by straight lines and
    integrated with the trapezoid rule; with ``normalize`` the area is divided by
    ``max(speedups) - min(speedups)``, giving the mean accuracy over the speed-up range.
    Compare methods only over the same speed-up range.

    Args:
        speedups: float array of shape (n_points,), speed-up of each operating point (>0).
        accuracies: float array of shape (n_points,), accuracy at each operating point.
        normalize: Divide by the speed-up range.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The (normalised) area, as a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value, fewer than 2 points, a
            speed-up <= 0, or (with ``normalize``) all speed-ups equal.

    Example:
        >>> area_under_speedup_curve([2.0, 1.0, 3.0], [0.7, 0.8, 0.5])
        0.675
    """
    caller = "area_under_speedup_curve"
    if validate:
        speedups, accuracies = _curve_validate(speedups, accuracies, ("speedups", "accuracies"), caller)
        if (speedups <= 0).any():
            i = int(np.flatnonzero(speedups <= 0)[0])
            msg = f"Argument `speedups` of {caller} must be > 0; got {speedups[i]} at index {i}."
            raise MetricInputError(msg)
        if normalize and speedups.min() == speedups.max():
            msg = (
                f"Argument `speedups` of {caller} has a single value ({speedups[0]}); the normalised area is 0 / 0. "
                "Pass operating points at different speed-ups, or normalize=False."
            )
            raise MetricInputError(msg)
    else:
        speedups = as_array(speedups, "speedups", caller).astype(np.float64)
        accuracies = as_array(accuracies, "accuracies", caller).astype(np.float64)
    order = np.argsort(speedups, kind="stable")
    return _curve_compute(speedups[order], accuracies[order], normalize=normalize)


def area_under_speedup_range(
    speedups: Any, accuracies: Any, *, low: float, high: float, validate: bool = True
) -> float:
    """Mean accuracy of an early-exit model over a fixed speed-up range, zero where the curve does not reach.

    The curve is that of :func:`accuracy_at_speedup`: the operating points sorted by speed-up, equal speed-ups
    counted once with their best accuracy, joined by straight lines. Over ``[low, high]`` its area (trapezoid
    rule, exact for the piecewise-linear curve) is divided by ``high - low``; past the fastest operating point
    the accuracy is 0 (no operating point is that fast). Every method is thus scored over the same range, which
    :func:`area_under_speedup_curve` (normalised by each curve's own range) does not do: a curve that stops at
    1.2x scores its mean over 1x to 1.2x there, and only its share of the common range here.

    Args:
        speedups: float array of shape (n_points,), speed-up of each operating point (> 0).
        accuracies: float array of shape (n_points,), accuracy at each operating point.
        low: Start of the range; the curve must start at or below it (include the full model at 1x).
        high: End of the range, > ``low``.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The mean accuracy over the range, a Python float (in the unit of the accuracies).

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value, a speed-up <= 0, ``high <= low``, or a curve
            whose slowest point is faster than ``low`` (its accuracy at ``low`` is not defined).

    Example:
        >>> area_under_speedup_range([1.0, 2.0], [0.8, 0.6], low=1.0, high=3.0)
        0.35
    """
    caller = "area_under_speedup_range"
    x, y = _speedup_curve(speedups, accuracies, caller, validate=validate)
    low, high = float(low), float(high)
    if validate:
        if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
            msg = f"Arguments `low` and `high` of {caller} must be finite with low < high; got {low} and {high}."
            raise MetricInputError(msg)
        if x[0] > low:
            msg = (
                f"Argument `speedups` of {caller} starts at {x[0]:g}, above the range's start {low:g}; the curve's "
                "accuracy there is not defined. Add the full model's point (1x) or a slower operating point."
            )
            raise MetricInputError(msg)
    end = min(high, float(x[-1]))
    inside = (x > low) & (x < end)
    grid = np.concatenate(([low], x[inside], [end]))
    area = _curve_compute(grid, np.interp(grid, x, y), normalize=False) if end > low else 0.0
    return area / (high - low)


def harmonic_mean(base: Any, novel: Any, *, validate: bool = True) -> float:
    """Harmonic mean of base-class and novel-class accuracy, 2 b n / (b + n).

    Args:
        base: float scalar, accuracy on the base classes (any unit, e.g. [0, 1] or percent).
        novel: float scalar, accuracy on the novel classes, in the same unit.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The harmonic mean in the unit of the inputs, as a Python float; 0.0 when both are 0
        (the limit of 2 b n / (b + n), and the worst value).

    Raises:
        MetricInputError: On a non-scalar, non-finite or negative value.

    Example:
        >>> harmonic_mean(0.8, 0.6)
        0.6857142857142857
    """
    caller = "harmonic_mean"
    values = []
    for name, value in (("base", base), ("novel", novel)):
        array = as_array(value, name, caller)
        if validate:
            if array.size != 1:
                msg = f"Argument `{name}` of {caller} must be a single number; got shape {array.shape}."
                raise MetricInputError(msg)
            check_finite(array, name, caller)
            if float(array.reshape(-1)[0]) < 0:
                msg = f"Argument `{name}` of {caller} must be >= 0 (an accuracy); got {float(array.reshape(-1)[0])}."
                raise MetricInputError(msg)
        values.append(float(array.reshape(-1)[0]))
    b, n = values
    return 0.0 if b + n == 0 else 2.0 * b * n / (b + n)


def _speedup_curve(speedups: Any, accuracies: Any, caller: str, *, validate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validated curve with equal speed-ups merged (best accuracy kept): (speed-ups ascending, accuracies)."""
    if validate:
        x, y = as_array(speedups, "speedups", caller), as_array(accuracies, "accuracies", caller)
        check_ndim(x, "speedups", caller, 1, "(n_points,)")
        check_ndim(y, "accuracies", caller, 1, "(n_points,)")
        check_same_shape(x, y, ("speedups", "accuracies"), caller)
        check_finite(x, "speedups", caller)
        check_finite(y, "accuracies", caller)
        if (x <= 0).any():
            i = int(np.flatnonzero(x <= 0)[0])
            msg = f"Argument `speedups` of {caller} must be > 0; got {x[i]} at index {i}."
            raise MetricInputError(msg)
    x = np.asarray(speedups, dtype=np.float64).reshape(-1)
    y = np.asarray(accuracies, dtype=np.float64).reshape(-1)
    unique, inverse = np.unique(x, return_inverse=True)
    best = np.full(unique.size, -np.inf)
    np.maximum.at(best, inverse, y)
    return unique, best


def accuracy_at_speedup(speedups: Any, accuracies: Any, *, speedup: float, validate: bool = True) -> float:
    """Accuracy of an early-exit model at a given speed-up, read off its accuracy / speed-up curve.

    The curve joins the operating points sorted by speed-up with straight lines (points with equal speed-ups
    count once, with their best accuracy), and is read at ``speedup`` by linear interpolation between the two
    points around it (exactly at a point, its accuracy).

    Args:
        speedups: float array of shape (n_points,), speed-up of each operating point (> 0).
        accuracies: float array of shape (n_points,), accuracy at each operating point.
        speedup: Where to read the curve, e.g. 1.5 or 2.0.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The interpolated accuracy, a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value or a speed-up <= 0; or when ``speedup`` lies
            outside the curve's range ``[min(speedups), max(speedups)]``: the curve does not reach it, so the
            accuracy there is not defined (the message gives the range). Add operating points that exit earlier
            (or later) to reach it.

    Example:
        >>> accuracy_at_speedup([1.0, 2.0, 3.0], [0.75, 0.5, 0.25], speedup=1.5)
        0.625
    """
    caller = "accuracy_at_speedup"
    x, y = _speedup_curve(speedups, accuracies, caller, validate=validate)
    target = float(speedup)
    if not x[0] <= target <= x[-1]:
        msg = (
            f"Argument `speedup` of {caller} is {target}, outside the curve's speed-up range [{x[0]:g}, {x[-1]:g}]; "
            "the curve does not reach it, so its accuracy there is not defined. Add operating points that reach "
            f"{target:g}x (thresholds that exit earlier or later)."
        )
        raise MetricInputError(msg)
    return float(np.interp(target, x, y))


def speedup_at_accuracy(speedups: Any, accuracies: Any, *, accuracy: float, validate: bool = True) -> float:
    """Largest speed-up at which an early-exit model keeps a given accuracy, read off its curve.

    On the piecewise-linear curve of :func:`accuracy_at_speedup`, this is the largest speed-up ``s`` whose
    accuracy is at least ``accuracy``: the last point at or above it, or, past that point, where the segment
    towards the next point crosses it (linear interpolation). Equality counts as reaching it. Typical use: the
    full model's accuracy minus one point (``accuracy=full - 0.01``).

    Args:
        speedups: float array of shape (n_points,), speed-up of each operating point (> 0).
        accuracies: float array of shape (n_points,), accuracy at each operating point.
        accuracy: The accuracy to keep.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The speed-up, a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value or a speed-up <= 0; or when no operating point
            reaches ``accuracy`` (then no speed-up keeps it; the message gives the best accuracy).

    Example:
        >>> speedup_at_accuracy([1.0, 2.0, 3.0], [1.0, 0.5, 0.25], accuracy=0.75)
        1.5
    """
    caller = "speedup_at_accuracy"
    x, y = _speedup_curve(speedups, accuracies, caller, validate=validate)
    target = float(accuracy)
    reached = np.flatnonzero(y >= target)
    if reached.size == 0:
        msg = (
            f"No operating point given to {caller} reaches accuracy {target}; the best is {y.max()}, so no speed-up "
            "keeps that accuracy. Lower the target or add operating points closer to the full model."
        )
        raise MetricInputError(msg)
    last = int(reached[-1])
    if last == len(x) - 1:
        return float(x[-1])
    # past the last point at or above the target, the next segment falls below it: cross it there
    t = (y[last] - target) / (y[last] - y[last + 1])
    return float(x[last] + t * (x[last + 1] - x[last]))
