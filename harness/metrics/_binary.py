"""Exact counting core of the binary score metrics (AUROC, average precision, F1-max).

All three metrics depend only on, for each distinct score ``v`` of a positive, how many
positives and negatives score at least ``v``. This module gets those counts by sorting
the negatives (in place, in a few contiguous parts sorted by parallel threads, because
``numpy.sort`` releases the GIL) and the positives, then binary-searching the distinct
positive scores in every sorted part. The parts are never merged: counts add up over
parts. Cost: O(n log n) time, one copy of the negatives and of the positives as memory,
and no argsort, so nothing of 8 bytes per element is allocated.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BinaryCounts",
    "auroc_from_counts",
    "average_precision_from_counts",
    "binary_counts",
    "count_below",
    "count_below_and_equal",
    "f1_max_from_counts",
    "kth_largest",
    "n_workers",
    "select_sorted",
    "sort_in_parts",
]

MIN_PART_SIZE = 1 << 20
"""Arrays shorter than this are sorted in one piece; threads only pay off above it."""

MAX_WORKERS = 4
"""Upper bound on sorting threads: each extra part adds one binary search per query."""


def n_workers() -> int:
    """Return the number of CPU cores this process may use, capped at :data:`MAX_WORKERS`."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n_cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, n_cpus))


def sort_in_parts(values: np.ndarray) -> list[np.ndarray]:
    """Sort contiguous parts of the 1-D array ``values`` in place, in parallel threads.

    Args:
        values: 1-D array of shape (n,), modified in place.

    Returns:
        Views of ``values`` of shapes (n_i,) that together cover it; each one is sorted
        ascending, but the parts are not merged with each other.
    """
    n_parts = min(n_workers(), max(1, values.size // MIN_PART_SIZE))
    if n_parts == 1:
        values.sort()
        return [values]
    bounds = np.linspace(0, values.size, n_parts + 1).astype(np.int64)
    parts = [values[start:stop] for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    with ThreadPoolExecutor(n_parts) as pool:
        list(pool.map(np.ndarray.sort, parts))
    return parts


def select_sorted(
    scores: np.ndarray, labels: np.ndarray, pool: ThreadPoolExecutor, *, bound: float | None = None
) -> list[np.ndarray]:
    """Copy the scores whose label is False (and that are >= ``bound``) into sorted parts.

    The selection runs chunk by chunk in the calling thread and each selected chunk is
    sorted by ``pool`` while the next one is selected.

    Args:
        scores: C-contiguous array of any shape.
        labels: C-contiguous bool array of the same shape; True entries are left out.
        pool: Executor that sorts the parts.
        bound: When given, only scores >= bound are kept.

    Returns:
        Fresh sorted 1-D arrays; together they hold every selected score once.
    """
    flat, flat_labels = scores.reshape(-1), labels.reshape(-1)
    n_parts = min(n_workers(), max(1, flat.size // MIN_PART_SIZE))
    bounds = np.linspace(0, flat.size, n_parts + 1).astype(np.int64)
    parts, sorts = [], []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        chunk, chunk_labels = flat[start:stop], flat_labels[start:stop]
        if bound is None:
            keep = ~chunk_labels
        else:
            keep = chunk >= bound
            np.greater(keep, chunk_labels, out=keep)  # keep & ~labels
        part = chunk[keep]
        del keep
        parts.append(part)
        sorts.append(pool.submit(part.sort))
    for sort in sorts:
        sort.result()
    return parts


def count_below(parts: list[np.ndarray], queries: np.ndarray, *, side: str) -> np.ndarray:
    """Count, for every query, the values of the sorted parts below it.

    Args:
        parts: Sorted 1-D arrays, as returned by :func:`sort_in_parts`.
        queries: Array of shape (n_queries,); sorted ascending for speed (not required).
        side: ``"left"`` counts values strictly below each query, ``"right"`` values below
            or equal to it.

    Returns:
        int64 array of shape (n_queries,).
    """
    counts = np.zeros(np.shape(queries), dtype=np.int64)
    for part in parts:
        counts += np.searchsorted(part, queries, side=side)
    return counts


def count_below_and_equal(parts: list[np.ndarray], queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Count, for every query, the values of the sorted parts strictly below it and equal to it.

    One binary search per query and part; the second search (for the end of a run of equal
    values) runs only for the queries that hit an equal value, so tie-free data pays once.

    Args:
        parts: Sorted 1-D arrays, as returned by :func:`sort_in_parts`.
        queries: Array of shape (n_queries,); sorted ascending for speed (not required).

    Returns:
        Two int64 arrays of shape (n_queries,): values < query and values == query.
    """
    below = np.zeros(queries.shape, dtype=np.int64)
    equal = np.zeros(queries.shape, dtype=np.int64)
    for part in parts:
        if part.size == 0:
            continue
        left = np.searchsorted(part, queries, side="left")
        hit = part[np.minimum(left, part.size - 1)] == queries
        hit &= left < part.size
        below += left
        if hit.any():
            equal[hit] += np.searchsorted(part, queries[hit], side="right") - left[hit]
    return below, equal


def kth_largest(parts: list[np.ndarray], k: int) -> Any:
    """Return the k-th largest value (1-based, with repeats) of the union of sorted parts.

    A binary search on the positions of each part, counting with :func:`count_below`;
    O(n_parts**2 * log(n)) scalar searches, no merge.
    """
    total = sum(part.size for part in parts)
    best = None
    for part in parts:
        lo, hi = 0, part.size - 1  # find the largest i with #(values >= part[i]) >= k
        if hi < 0 or total - int(count_below(parts, part[lo], side="left")) < k:
            continue
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if total - int(count_below(parts, part[mid], side="left")) >= k:
                lo = mid
            else:
                hi = mid - 1
        if best is None or part[lo] > best:
            best = part[lo]
    return best


@dataclass(frozen=True)
class BinaryCounts:
    """Counts at every distinct score of a positive, ordered from the highest score down.

    Attributes:
        thresholds: Array of shape (n_thresholds,), the distinct positive scores, descending.
        n_pos_at: int64 array of shape (n_thresholds,), positives scoring exactly the threshold.
        n_pos_ge: int64 array of shape (n_thresholds,), positives scoring at least the threshold.
        n_neg_ge: int64 array of shape (n_thresholds,), negatives scoring at least the threshold.
        n_neg_eq: int64 array of shape (n_thresholds,), negatives scoring exactly the threshold.
        n_pos: Number of positives.
        n_neg: Number of negatives.
    """

    thresholds: np.ndarray
    n_pos_at: np.ndarray
    n_pos_ge: np.ndarray
    n_neg_ge: np.ndarray
    n_neg_eq: np.ndarray
    n_pos: int
    n_neg: int


def binary_counts(scores: np.ndarray, labels: np.ndarray) -> BinaryCounts:
    """Count positives and negatives at or above every distinct positive score.

    Args:
        scores: C-contiguous array of any shape; not modified.
        labels: C-contiguous bool array of the same shape, True for positives.

    Returns:
        The counts; ties between a positive and a negative are reported in ``n_neg_eq``.
    """
    with ThreadPoolExecutor(n_workers()) as pool:
        positives = scores[labels]
        sorting = pool.submit(positives.sort)  # a fresh copy: sorted in place
        parts = select_sorted(scores, labels, pool)
        sorting.result()
    n_pos, n_neg = positives.size, sum(part.size for part in parts)
    is_start = np.empty(n_pos, dtype=bool)
    is_start[0] = True
    np.not_equal(positives[1:], positives[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)
    thresholds = positives[starts]
    n_pos_at = np.diff(np.append(starts, n_pos))
    below, equal = count_below_and_equal(parts, thresholds)
    return BinaryCounts(
        thresholds=thresholds[::-1],
        n_pos_at=n_pos_at[::-1],
        n_pos_ge=(n_pos - starts)[::-1],
        n_neg_ge=(n_neg - below)[::-1],
        n_neg_eq=equal[::-1],
        n_pos=n_pos,
        n_neg=n_neg,
    )


def auroc_from_counts(counts: BinaryCounts) -> float:
    """Return the area under the ROC curve: P(score_pos > score_neg) + P(tie) / 2.

    The Mann-Whitney count is summed in int64 (exact), then divided once.
    """
    below = counts.n_neg - counts.n_neg_ge
    twice_u = int(np.dot(counts.n_pos_at, 2 * below + counts.n_neg_eq))
    return twice_u / (2.0 * counts.n_pos * counts.n_neg)


def average_precision_from_counts(counts: BinaryCounts) -> float:
    """Return the step-wise average precision, sum over thresholds of (delta recall) * precision."""
    precision = counts.n_pos_ge / (counts.n_pos_ge + counts.n_neg_ge)
    return float(np.dot(counts.n_pos_at, precision) / counts.n_pos)


def f1_max_from_counts(counts: BinaryCounts) -> float:
    """Return the largest F1 score over all thresholds, 2 TP / (TP + FP + P)."""
    f1 = 2.0 * counts.n_pos_ge / (counts.n_pos_ge + counts.n_neg_ge + counts.n_pos)
    return float(f1.max())
