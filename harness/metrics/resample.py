"""Metrics on many bootstrap resamples at once: each resample is a row of item weights (counts).

A bootstrap resample of ``n`` test items is a vector of counts (how often each item was drawn); the metric of the
resample equals the metric of the items weighted by those counts. Every function here takes the per-item
values once and a weight matrix of shape (n_resamples, n_items), and returns one value per resample, so a
thousand resamples cost one sort and a few cumulative sums instead of a thousand metric calls.
:func:`harness.stats.bootstrap_weights` draws the weights. Each function equals its unweighted metric in
:mod:`harness.metrics.anomaly` (or a mean) on a resample built by repeating the items (tests compare with
scikit-learn on such resamples, ties included).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["weighted_agreement", "weighted_auroc", "weighted_average_precision", "weighted_f1_max", "weighted_mean"]


def _weights(weights: Any, n_items: int) -> np.ndarray:
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if weights.shape[1] != n_items:
        msg = f"weights must have shape (n_resamples, {n_items}); got {weights.shape}."
        raise ValueError(msg)
    return weights


def weighted_mean(values: Any, weights: Any) -> np.ndarray:
    """Weighted mean of per-item values under each resample.

    Args:
        values: float array of shape (n_items,) (e.g. 1.0 for a hit, 0.0 for a miss).
        weights: array of shape (n_resamples, n_items), non-negative counts.

    Returns:
        float64 array of shape (n_resamples,); NaN where a resample has zero total weight.

    Example:
        >>> weighted_mean([1.0, 0.0, 1.0], [[1, 1, 1], [0, 3, 0]]).round(3).tolist()
        [0.667, 0.0]
    """
    values = np.asarray(values, dtype=np.float64)
    weights = _weights(weights, len(values))
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, weights @ values / np.where(total > 0, total, 1.0), np.nan)


def _grouped(scores: Any, labels: Any, weights: Any, *, descending: bool) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative weight per distinct score (sorted), each of shape (n_resamples, n_distinct)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    weights = _weights(weights, len(scores))
    order = np.argsort(-scores if descending else scores, kind="stable")
    ordered = scores[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    w = weights[:, order]
    y = labels[order]
    return np.add.reduceat(w * y, starts, axis=1), np.add.reduceat(w * ~y, starts, axis=1)


def weighted_auroc(scores: Any, labels: Any, weights: Any) -> np.ndarray:
    """ROC AUC of each resample (a tie between a positive and a negative counts one half).

    Args:
        scores: float array of shape (n_items,), higher means positive.
        labels: bool or 0/1 array of shape (n_items,).
        weights: array of shape (n_resamples, n_items), non-negative counts.

    Returns:
        float64 array of shape (n_resamples,); NaN for a resample without both classes.
    """
    pos, neg = _grouped(scores, labels, weights, descending=False)
    below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _counts(scores: Any, labels: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pos, neg = _grouped(scores, labels, weights, descending=True)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    return pos, tp, fp, tp[:, -1]


def weighted_average_precision(scores: Any, labels: Any, weights: Any) -> np.ndarray:
    """Step-wise average precision of each resample (as scikit-learn's ``average_precision_score``).

    Returns:
        float64 array of shape (n_resamples,); NaN for a resample without a positive.
    """
    pos, tp, fp, n_pos = _counts(scores, labels, weights)
    called = tp + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(called > 0, tp / np.where(called > 0, called, 1.0), 0.0)
        return np.where(n_pos > 0, (pos * precision).sum(axis=1) / np.where(n_pos > 0, n_pos, 1.0), np.nan)


def weighted_f1_max(scores: Any, labels: Any, weights: Any) -> np.ndarray:
    """Largest F1 over every threshold, of each resample: max of 2 TP / (TP + FP + P).

    Returns:
        float64 array of shape (n_resamples,); NaN for a resample without a positive.
    """
    _, tp, fp, n_pos = _counts(scores, labels, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * tp / (tp + fp + n_pos[:, None])
        return np.where(n_pos > 0, np.nanmax(np.where(tp > 0, f1, 0.0), axis=1), np.nan)


def weighted_agreement(pred: Any, target: Any, weights: Any) -> dict[str, np.ndarray]:
    """CCC, Pearson r, RMSE and MAE of each target under each resample (:mod:`harness.metrics.agreement`).

    The weighted moments are those of the resample built by repeating every item as often as its weight (population
    moments, ddof=0), computed after centring both arrays on the target's mean (CCC and r do not change under a
    common shift), so that no large offset cancels digits.

    Args:
        pred: float array of shape (n_items, n_targets) (or (n_items,)).
        target: float array of the same shape.
        weights: array of shape (n_resamples, n_items), non-negative counts.

    Returns:
        ``ccc``, ``pearson``, ``rmse`` and ``mae``, each float64 of shape (n_resamples, n_targets) (or
        (n_resamples,) for 1-D inputs). Pearson's r is 0 where the weighted predictions are constant (no linear
        association); every value is NaN where a resample has zero total weight.

    Example:
        >>> out = weighted_agreement([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], [[1, 1, 1]])
        >>> round(float(out["ccc"][0]), 6), round(float(out["rmse"][0]), 6)
        (0.857143, 0.57735)
    """
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    flat = pred.ndim == 1
    pred, target = np.atleast_2d(pred.T).T, np.atleast_2d(target.T).T
    weights = _weights(weights, len(pred))
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = target.mean(axis=0)
        p, t = pred - shift, target - shift
        mean_p, mean_t = weights @ p / total, weights @ t / total
        var_p = np.maximum(weights @ (p * p) / total - mean_p**2, 0.0)
        var_t = np.maximum(weights @ (t * t) / total - mean_t**2, 0.0)
        cov = weights @ (p * t) / total - mean_p * mean_t
        constant = np.ptp(p, axis=0) == 0  # a constant prediction has no covariance; skip the rounding residue
        var_p[:, constant], cov[:, constant] = 0.0, 0.0
        out = {
            "ccc": 2 * cov / (var_p + var_t + (mean_p - mean_t) ** 2),
            "pearson": np.where(var_p > 0, cov / np.sqrt(var_p * var_t), 0.0),
            "rmse": np.sqrt(weights @ ((p - t) ** 2) / total),
            "mae": weights @ np.abs(p - t) / total,
        }
    out["pearson"] = np.clip(out["pearson"], -1.0, 1.0)
    return {k: (v[:, 0] if flat else v) for k, v in out.items()}
