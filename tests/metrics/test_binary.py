"""Tests of the exact counting core shared by AUROC, AP and F1-max."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from harness.metrics import _binary

from .conftest import N_CASES, tied_values


def _reference_counts(scores: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Counts at every distinct positive score, by brute force over all scores."""
    thresholds = np.unique(scores[labels])[::-1]
    pos, neg = scores[labels], scores[~labels]
    return {
        "thresholds": thresholds,
        "n_pos_at": np.array([(pos == t).sum() for t in thresholds]),
        "n_pos_ge": np.array([(pos >= t).sum() for t in thresholds]),
        "n_neg_ge": np.array([(neg >= t).sum() for t in thresholds]),
        "n_neg_eq": np.array([(neg == t).sum() for t in thresholds]),
    }


@pytest.mark.parametrize("case", range(N_CASES))
def test_binary_counts_match_brute_force(case, rng, monkeypatch):
    monkeypatch.setattr(_binary, "MIN_PART_SIZE", 7)  # force several sorted parts on small inputs
    rng = np.random.default_rng([case, 1])
    n = int(rng.integers(2, 60))
    scores = tied_values(rng, (n,))
    labels = rng.random(n) < 0.4
    labels[:2] = [True, False]
    got = _binary.binary_counts(scores.copy(), labels)
    for name, expected in _reference_counts(scores, labels).items():
        np.testing.assert_array_equal(getattr(got, name), expected, err_msg=name)


@pytest.mark.parametrize("case", range(N_CASES))
def test_kth_largest_of_sorted_parts(case):
    rng = np.random.default_rng([case, 2])
    parts = [np.sort(tied_values(rng, (int(rng.integers(0, 12)),))) for _ in range(int(rng.integers(1, 4)))]
    union = np.sort(np.concatenate(parts))[::-1]
    if union.size == 0:
        return
    for k in range(1, union.size + 1):
        assert _binary.kth_largest(parts, k) == union[k - 1]


def test_select_sorted_keeps_negatives_at_or_above_bound(monkeypatch):
    monkeypatch.setattr(_binary, "MIN_PART_SIZE", 5)
    rng = np.random.default_rng(3)
    scores = tied_values(rng, (4, 6))
    labels = rng.random((4, 6)) < 0.3
    with ThreadPoolExecutor(2) as pool:
        parts = _binary.select_sorted(scores, labels, pool, bound=0.4)
    assert len(parts) > 1
    assert all((np.diff(part) >= 0).all() for part in parts)
    expected = np.sort(scores[~labels & (scores >= 0.4)])
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), expected)


@pytest.mark.parametrize("case", range(N_CASES))
def test_count_below_and_equal(case):
    rng = np.random.default_rng([case, 4])
    parts = [np.sort(tied_values(rng, (int(rng.integers(0, 12)),))) for _ in range(int(rng.integers(1, 4)))]
    queries = np.sort(tied_values(rng, (int(rng.integers(1, 8)),)))
    below, equal = _binary.count_below_and_equal(parts, queries)
    union = np.concatenate(parts)
    np.testing.assert_array_equal(below, [(union < q).sum() for q in queries])
    np.testing.assert_array_equal(equal, [(union == q).sum() for q in queries])


def test_count_below_both_sides():
    parts = [np.array([0.0, 1.0, 1.0]), np.array([1.0, 2.0])]
    np.testing.assert_array_equal(_binary.count_below(parts, np.array([1.0, 3.0]), side="left"), [1, 5])
    np.testing.assert_array_equal(_binary.count_below(parts, np.array([1.0, 3.0]), side="right"), [4, 5])
