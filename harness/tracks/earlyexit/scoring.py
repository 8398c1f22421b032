"""Scoring a job of the early-exit track from its raw predictions (runner's process; numpy only).

Per test item (:func:`sweep_items`): whether it is classified right at each exit, and at the exit it takes at
each threshold of the sweep; and for each cost unit (:data:`COSTS`: measured seconds at batch size 1, FLOPs,
measured seconds at the budget's batch size) the cost of its exit at each threshold relative to the full model.
Every metric is a function of these arrays and of per-item weights (:func:`sweep_metrics`): with all weights 1
the job's metrics, with bootstrap weights the leaderboard's resamples. At a threshold ``t``:

- accuracy: ``sum_i w_i correct_i(t) / sum_i w_i``;
- speed-up: ``sum_i w_i / sum_i w_i cost_i(t) / full``, the full model's total cost over the policy's (the
  measured time of running every item up to its exit, or its FLOPs; see :mod:`harness.tracks.earlyexit.timing`).

The curve of each cost unit is summarised by :func:`harness.tracks.earlyexit.sweep.sweep_summary` over the
speed-up range ``[1, max_speedup]`` shared by every method; metric names carry the unit's suffix (none for the
main timing, batch size 1).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from harness.errors import InvalidPredictionError
from harness.tracks.earlyexit.grids import CLOSED_FORM_RULES, RULES, sweep_exits, threshold_grid
from harness.tracks.earlyexit.sweep import SPEEDUP_POINTS, sweep_summary

__all__ = ["COSTS", "SUMMARY_NAMES", "check_predictions", "metric_names", "sweep_items", "sweep_metrics"]

#: cost unit -> (predictions' per-exit cost array, full-model cost array, metric suffix); the first is the main one.
COSTS = {
    "bs1": ("seconds_exit_bs1", "seconds_full_bs1", ""),
    "flops": ("flops_exit", "flops_full", "_flops"),
    "batch": ("seconds_exit_batch", "seconds_full_batch", "_batch"),
}
#: What :func:`~harness.tracks.earlyexit.sweep.sweep_summary` returns of each curve.
SUMMARY_NAMES = (
    "auc_accuracy_speedup", *[f"accuracy_at_{suffix}" for _, suffix in SPEEDUP_POINTS], "speedup_at_full_minus_1pt",
    "max_speedup",
)


def metric_names() -> list[str]:
    """Every metric :func:`sweep_metrics` returns, main timing first, then ``final_accuracy``."""
    return [f"{name}{suffix}" for _, _, suffix in COSTS.values() for name in SUMMARY_NAMES] + ["final_accuracy"]


def check_predictions(predictions: object, *, n_items: int, n_classes: int, depth: int) -> None:
    """Raise :class:`~harness.errors.InvalidPredictionError` unless the predictions can be scored.

    Checks shapes and dtypes, exit depths (increasing, the last at the backbone's ``depth``), the rule and its
    threshold grid (the track's), the exits (recomputed from the logits and exit scores with the rule: any
    disagreement is refused), and the costs (finite and > 0).
    """
    logits = predictions.check("exit_logits", shape=(-1, n_items, n_classes), kind="f")
    n_exits = logits.shape[0]
    depths = predictions.check("exit_depths", shape=(n_exits,), kind="iu")
    if n_exits < 1 or depths[-1] != depth or (np.diff(depths) <= 0).any() or depths[0] < 1:
        msg = (
            f"predictions['exit_depths'] must increase from >= 1 to the backbone's depth {depth}; got "
            f"{depths.tolist()}."
        )
        raise InvalidPredictionError(msg)
    code = int(predictions.check("rule", shape=(1,), kind="iu")[0])
    if not 0 <= code < len(RULES):
        msg = f"predictions['rule'] must be a rule code in [0, {len(RULES) - 1}] ({', '.join(RULES)}); got {code}."
        raise InvalidPredictionError(msg)
    rule = RULES[code]
    grid = threshold_grid(rule, n_exits=n_exits, n_classes=n_classes)
    thresholds = predictions.check("thresholds", shape=(len(grid),), kind="f")
    if not np.allclose(thresholds, grid, rtol=0, atol=1e-12):
        msg = f"predictions['thresholds'] must be the track's grid of rule {rule!r}; got {thresholds.tolist()}."
        raise InvalidPredictionError(msg)
    layers = predictions.check("exit_layers", shape=(len(grid), n_items), kind="iu")
    if layers.size and (layers.min() < 0 or layers.max() >= n_exits):
        msg = (
            f"predictions['exit_layers'] must hold exits in [0, {n_exits - 1}]; got values in "
            f"[{layers.min()}, {layers.max()}]."
        )
        raise InvalidPredictionError(msg)
    scores = None
    if rule == "policy":
        scores = predictions.check("exit_scores", shape=(n_exits, n_items), kind="f")
    patience = int(predictions.check("patience", shape=(1,), kind="iu")[0])
    if rule == "patience_confidence" and not 1 <= patience <= n_exits:
        msg = f"predictions['patience'] must be in [1, {n_exits}]; got {patience}."
        raise InvalidPredictionError(msg)
    expected = sweep_exits(rule, logits.astype(np.float64), thresholds, patience=patience, exit_scores=scores)
    if not np.array_equal(expected, layers):
        t, i = map(int, np.argwhere(expected != layers)[0])
        msg = (
            f"predictions['exit_layers'] disagree with rule {rule!r} applied to the exit logits"
            f"{'' if rule in CLOSED_FORM_RULES else ' and scores'}: at threshold {thresholds[t]:g}, item {i} took "
            f"exit {layers[t, i]} where the rule gives {expected[t, i]} ({int((expected != layers).sum())} differ)."
        )
        raise InvalidPredictionError(msg)
    for exit_name, full_name, _ in COSTS.values():
        costs = predictions.check(exit_name, shape=(n_exits,), kind="f")
        full = predictions.check(full_name, shape=(1,), kind="f")
        if (costs <= 0).any() or full[0] <= 0:
            msg = (
                f"predictions[{exit_name!r}] and [{full_name!r}] must be > 0; got {costs.tolist()} and "
                f"{full.tolist()}."
            )
            raise InvalidPredictionError(msg)


def sweep_items(predictions: object, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-item arrays of one job (first axis: the test items, in the order of ``labels``).

    Args:
        predictions: Checked predictions (:func:`check_predictions`).
        labels: int array of shape (n_items,).

    Returns:
        ``exit_correct`` float64 (n_items, n_exits): 1 where the exit's argmax is the label (ties: lowest class);
        ``correct`` float64 (n_items, n_thresholds): the same at the exit taken at each threshold; and for each
        cost unit ``u`` of :data:`COSTS`, ``cost_<u>`` float64 (n_items, n_thresholds): the cost of the exit taken
        over the full model's.
    """
    logits = predictions["exit_logits"]
    layers = predictions["exit_layers"].astype(np.int64)
    hits = np.argmax(logits, axis=2) == np.asarray(labels)[None, :]  # (n_exits, n_items)
    items = {
        "exit_correct": hits.T.astype(np.float64),
        "correct": np.take_along_axis(hits, layers, axis=0).T.astype(np.float64),
    }
    for unit, (exit_name, full_name, _) in COSTS.items():
        relative = predictions[exit_name].astype(np.float64) / float(predictions[full_name][0])
        items[f"cost_{unit}"] = relative[layers].T
    return items


def sweep_metrics(items: Mapping[str, np.ndarray], weights: np.ndarray, *, max_speedup: float) -> dict[str, np.ndarray]:
    """Every metric of :func:`metric_names` for each row of ``weights``.

    Args:
        items: The arrays of :func:`sweep_items`.
        weights: float array of shape (n_resamples, n_items), how often each item counts (all ones: the job).
        max_speedup: End of the speed-up range of the areas (its start is 1).

    Returns:
        metric -> float64 array of shape (n_resamples,).
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    total = weights.sum(axis=1)
    accuracy = weights @ items["correct"] / total[:, None]
    full = weights @ items["exit_correct"][:, -1] / total
    out: dict[str, list[float]] = {name: [] for name in metric_names()}
    for unit, (_, _, suffix) in COSTS.items():
        speedups = total[:, None] / (weights @ items[f"cost_{unit}"])
        for r in range(len(weights)):
            summary = sweep_summary(speedups[r], accuracy[r], full_accuracy=float(full[r]),
                                    speedup_range=(1.0, float(max_speedup)), validate=False)
            for name, value in summary.items():
                out[f"{name}{suffix}"].append(value)
    out["final_accuracy"] = list(full)
    return {name: np.asarray(values, dtype=np.float64) for name, values in out.items()}
