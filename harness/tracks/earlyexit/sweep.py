"""The threshold sweep of an early-exit method: one operating point per threshold, and the curve's summary.

A method returns, for each threshold of its sweep, the exit every test sample took (int array ``exit_layers``
of shape (n_thresholds, n_samples)), beside the logits of every exit (float array ``exit_logits`` of shape
(n_exits, n_samples, n_classes)). :func:`sweep_table` turns them, with the costs the harness measured, into one
row per threshold: accuracy, average exit layer, FLOPs per image and speed-ups (FLOPs and every measured
timing). :func:`sweep_summary` then reads one accuracy / speed-up curve:

- ``auc_accuracy_speedup``: the mean accuracy over a speed-up range. The track passes a fixed range shared by
  every method (``speedup_range=(1.0, high)``, :func:`harness.metrics.curves.area_under_speedup_range`: 0 past
  the curve's fastest point), so areas of two methods compare; without it, the area is divided by the curve's
  own range (:func:`harness.metrics.curves.area_under_speedup_curve`), which only compares curves of one range;
- ``accuracy_at_1p5x`` and ``accuracy_at_2x``: accuracy read off the curve at 1.5x and 2x by linear
  interpolation (:func:`harness.metrics.curves.accuracy_at_speedup`);
- ``speedup_at_full_minus_1pt``: the largest speed-up that keeps the full model's accuracy minus 0.01
  (:func:`harness.metrics.curves.speedup_at_accuracy`);
- ``max_speedup``: the fastest operating point.

The curve holds the method's operating points and the full model itself (speed-up 1 by definition, the
accuracy of the last exit): every method can fall back to running the whole backbone, so the curve always
starts at (or below) 1x and the full model's accuracy minus a point is always reached. A speed-up the curve does
not reach (1.5x or 2x beyond ``max_speedup``) scores accuracy 0.0 there: the method has no operating point that
fast, it fails that speed budget; ``max_speedup`` says how far it got.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from harness.metrics import curves, early_exit
from harness.metrics._validation import MetricInputError, as_array, check_ndim

__all__ = ["FULL_MODEL_MARGIN", "SPEEDUP_POINTS", "ExitCosts", "sweep_summary", "sweep_table"]

#: Speed-ups at which :func:`sweep_summary` reads the accuracy, with the suffix of their metric name.
SPEEDUP_POINTS = ((1.5, "1p5x"), (2.0, "2x"))
#: Accuracy margin below the full model for ``speedup_at_full_minus_1pt`` (one point of accuracy).
FULL_MODEL_MARGIN = 0.01


@dataclass(frozen=True)
class ExitCosts:
    """Cost per image of leaving at each exit and of the full model, in one unit (FLOPs or seconds).

    Attributes:
        exit_costs: float array of shape (n_exits,), e.g. ``ExitFlops.to_exit`` or ``ExitSeconds.to_exit``.
        full_cost: The full model without intermediate heads, e.g. ``ExitFlops.full`` or ``ExitSeconds.full``.
    """

    exit_costs: np.ndarray
    full_cost: float


def sweep_table(
    exit_logits: Any,
    labels: Any,
    exit_layers: Any,
    *,
    thresholds: Any,
    exit_depths: Any,
    flops: ExitCosts,
    seconds: Mapping[str, ExitCosts],
) -> pd.DataFrame:
    """One row per threshold of a sweep: accuracy, average exit layer, FLOPs per image and speed-ups.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes), logits of every exit.
        labels: int array of shape (n_samples,), true classes.
        exit_layers: int array of shape (n_thresholds, n_samples), the exit each sample took at each threshold.
        thresholds: float array of shape (n_thresholds,), the swept values (confidence, entropy, patience...).
        exit_depths: int array of shape (n_exits,), the backbone layer (1-based) after which each exit sits.
        flops: FLOPs per image of each exit (with the heads the method evaluates) and of the full model.
        seconds: Timing name (e.g. ``"bs1"``, ``"bs64"``) -> measured seconds per image.

    Returns:
        DataFrame with columns ``threshold``, ``accuracy``, ``mean_exit_layer``, ``flops_per_image``,
        ``speedup_flops``, then ``seconds_per_image_<name>`` and ``speedup_<name>`` per timing; one row per
        threshold in the given order.

    Raises:
        MetricInputError: On wrong shapes or lengths, or an exit or label index out of range.

    Example:
        >>> logits = np.array([[[2.0, 0.0], [2.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]])
        >>> costs = ExitCosts(np.array([1.0, 2.0]), 2.0)
        >>> table = sweep_table(logits, [0, 1], [[0, 0], [1, 1]], thresholds=[0.5, 0.9], exit_depths=[1, 2],
        ...                     flops=costs, seconds={"bs1": costs})
        >>> table[["accuracy", "speedup_bs1"]].to_numpy().tolist()
        [[0.5, 2.0], [1.0, 1.0]]
    """
    caller = "sweep_table"
    layers = as_array(exit_layers, "exit_layers", caller)
    check_ndim(layers, "exit_layers", caller, 2, "(n_thresholds, n_samples)")
    values = as_array(thresholds, "thresholds", caller)
    check_ndim(values, "thresholds", caller, 1, "(n_thresholds,)")
    if len(values) != len(layers):
        msg = f"Arguments of {caller} disagree: {len(values)} thresholds but {len(layers)} rows of `exit_layers`."
        raise MetricInputError(msg)
    rows = []
    for threshold, taken in zip(values, layers, strict=True):
        row = {
            "threshold": float(threshold),
            "accuracy": early_exit.early_exit_accuracy(exit_logits, labels, taken),
            "mean_exit_layer": early_exit.mean_exit_layer(taken, exit_depths=exit_depths),
            "flops_per_image": early_exit.expected_cost(taken, flops.exit_costs),
            "speedup_flops": early_exit.speedup(taken, flops.exit_costs, full_cost=flops.full_cost),
        }
        for name, costs in seconds.items():
            row[f"seconds_per_image_{name}"] = early_exit.expected_cost(taken, costs.exit_costs)
            row[f"speedup_{name}"] = early_exit.speedup(taken, costs.exit_costs, full_cost=costs.full_cost)
        rows.append(row)
    return pd.DataFrame(rows)


def sweep_summary(
    speedups: Any,
    accuracies: Any,
    *,
    full_accuracy: float,
    speedup_range: tuple[float, float] | None = None,
    validate: bool = True,
) -> dict[str, float]:
    """Summarise one accuracy / speed-up curve of a sweep (see the module docstring for each number).

    Args:
        speedups: float array of shape (n_thresholds,), speed-up of each operating point (> 0), e.g. the
            ``speedup_bs1`` column of :func:`sweep_table`.
        accuracies: float array of shape (n_thresholds,), accuracy of each operating point.
        full_accuracy: Accuracy of the full model (the last exit for every sample); the point
            ``(1.0, full_accuracy)`` joins the curve. Without ``speedup_range``, where every point sits at one
            speed-up the area has no width; ``auc_accuracy_speedup`` is then the best accuracy there (the height
            of that one point).
        speedup_range: ``(low, high)`` with ``low <= 1``: the area is the mean accuracy over this range, 0 past the
            fastest point; ``None``: over the curve's own range.
        validate: Check the inputs; pass False only for inputs already checked (the bootstrap's resamples).

    Returns:
        ``auc_accuracy_speedup``, ``accuracy_at_1p5x``, ``accuracy_at_2x``, ``speedup_at_full_minus_1pt`` and
        ``max_speedup``, Python floats.

    Raises:
        MetricInputError: On wrong shapes, non-finite values or a speed-up <= 0.

    Example:
        >>> summary = sweep_summary([1.25, 2.0, 3.0], [0.875, 0.75, 0.5], full_accuracy=0.875)
        >>> summary["accuracy_at_2x"], round(summary["speedup_at_full_minus_1pt"], 6)
        (0.75, 1.31)
        >>> sweep_summary([2.0], [0.5], full_accuracy=0.7, speedup_range=(1.0, 3.0))["auc_accuracy_speedup"]
        0.3
    """
    if validate:
        x = as_array(speedups, "speedups", "sweep_summary").astype(np.float64)
        y = as_array(accuracies, "accuracies", "sweep_summary").astype(np.float64)
    else:
        x, y = np.asarray(speedups, dtype=np.float64), np.asarray(accuracies, dtype=np.float64)
    x, y = np.append(x, 1.0), np.append(y, float(full_accuracy))
    if speedup_range is not None:
        low, high = speedup_range
        auc = curves.area_under_speedup_range(x, y, low=low, high=high, validate=validate)
    elif np.ptp(x) > 0:
        auc = curves.area_under_speedup_curve(x, y, validate=validate)
    else:
        auc = float(y.max())
    summary = {"auc_accuracy_speedup": auc}
    reach = float(x.max())
    for point, suffix in SPEEDUP_POINTS:
        inside = x.min() <= point <= reach
        summary[f"accuracy_at_{suffix}"] = (
            curves.accuracy_at_speedup(x, y, speedup=point, validate=validate) if inside else 0.0
        )
    summary["speedup_at_full_minus_1pt"] = curves.speedup_at_accuracy(
        x, y, accuracy=float(full_accuracy) - FULL_MODEL_MARGIN, validate=validate
    )
    summary["max_speedup"] = reach
    return summary
