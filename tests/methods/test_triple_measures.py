"""The triple-measure strategy: running sums against a full recomputation, and its selection rule."""

from __future__ import annotations

import numpy as np
import pytest

from harness.api import Context
from harness.tracks.active import PoolState
from methods.triple_measures import TripleMeasures
from methods.triple_measures.model import (
    TripleMeasureState,
    bvsb_uncertainty,
    fuse,
    median_gamma,
    rbf_kernel,
    triple_measure_discrepancy,
)

SEED = 0
N_POOL, N_FEATURES, N_CLASSES = 14, 3, 3


def _reference_mmd(kernel, vectors, left, right):
    """Squared MMD between the row sets ``left`` and ``right`` under W = K * <q_i, q_j>, by double loops."""
    def mean_w(a, b):
        return sum(kernel[i, j] * float(vectors[i] @ vectors[j]) for i in a for j in b) / (len(a) * len(b))

    return mean_w(left, left) - 2 * mean_w(left, right) + mean_w(right, right)


def _problem(seed=SEED, n_labelled=4):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(N_POOL, N_FEATURES))
    proba = rng.dirichlet(np.ones(N_CLASSES), size=N_POOL)
    labelled = rng.choice(N_POOL, size=n_labelled, replace=False)
    labels = rng.integers(0, N_CLASSES, size=n_labelled)
    unlabelled = np.setdiff1d(np.arange(N_POOL), labelled)
    return features, proba, labelled, labels, unlabelled


def _vectors(proba, labelled, labels):
    vectors = proba.copy()
    vectors[labelled] = np.eye(N_CLASSES)[labels]
    return vectors


def test_kernel_and_median_gamma_against_loops():
    features, *_ = _problem()
    gamma = median_gamma(features)
    sq = [np.sum((a - b) ** 2) for i, a in enumerate(features) for b in features[i + 1 :]]
    assert gamma == pytest.approx(1 / np.median(sq))
    kernel = rbf_kernel(features, gamma=gamma)
    want = np.array([[np.exp(-gamma * np.sum((a - b) ** 2)) for b in features] for a in features])
    np.testing.assert_allclose(kernel, want, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discrepancy_from_running_sums_equals_full_recomputation(seed):
    features, proba, labelled, labels, unlabelled = _problem(seed)
    kernel = rbf_kernel(features, gamma=median_gamma(features))
    state = TripleMeasureState(kernel, N_CLASSES)
    for i in range(len(labelled)):  # revealed one at a time: incremental updates of A
        state.reveal(labelled[i : i + 1], labels[i : i + 1])
    vectors = _vectors(proba, labelled, labels)
    np.testing.assert_allclose(state.a_sum, kernel[:, labelled] @ vectors[labelled], atol=1e-12)
    b_sum = kernel[:, unlabelled] @ vectors[unlabelled]
    got = triple_measure_discrepancy(state.a_sum, b_sum, vectors, labelled, unlabelled)
    for s, value in zip(unlabelled, got, strict=True):
        want = _reference_mmd(kernel, vectors, [*labelled, s], [u for u in unlabelled if u != s])
        assert value == pytest.approx(want, abs=1e-12), s


def test_unweighted_state_is_plain_mmd():
    features, proba, labelled, labels, unlabelled = _problem(4)
    kernel = rbf_kernel(features, gamma=0.5)
    state = TripleMeasureState(kernel, N_CLASSES, weighted=False)
    state.reveal(labelled, labels)
    ones = np.ones((N_POOL, 1))
    got = triple_measure_discrepancy(state.a_sum, kernel[:, unlabelled] @ ones[unlabelled], ones, labelled, unlabelled)
    for s, value in zip(unlabelled, got, strict=True):
        assert value == pytest.approx(_reference_mmd(kernel, ones, [*labelled, s], list(np.setdiff1d(unlabelled, s))))


def test_bvsb_and_fusion_rule():
    proba = np.array([[0.5, 0.5, 0.0], [0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(bvsb_uncertainty(proba), [1.0, 0.5, 0.0])
    d = np.array([3.0, 1.0, 2.0])
    np.testing.assert_allclose(fuse(d, None, beta=1.0), [0.0, 1.0, 0.5])
    np.testing.assert_allclose(fuse(d, np.array([1.0, 0.0, 0.0]), beta=0.5), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(fuse(np.ones(3), None, beta=1.0), np.ones(3))


@pytest.mark.parametrize("batch_size", [1, 3])
def test_selection_equals_brute_force_greedy(batch_size):
    features, proba, labelled, labels, unlabelled = _problem(5)
    kernel = rbf_kernel(features, gamma=median_gamma(features))
    state = TripleMeasureState(kernel, N_CLASSES)
    state.reveal(labelled, labels)
    got = state.select(proba, unlabelled, batch_size, beta=0.7)
    vectors = _vectors(proba, labelled, labels)
    chosen, left, remaining = [], list(labelled), list(unlabelled)
    for _ in range(batch_size):  # chosen rows join L with their estimated probabilities
        d = np.array([_reference_mmd(kernel, vectors, [*left, s], [u for u in remaining if u != s]) for s in remaining])
        score = bvsb_uncertainty(proba[remaining]) + 0.7 * (d.max() - d) / (d.max() - d.min())
        pick = remaining[int(np.argmax(score))]
        chosen.append(pick)
        left.append(pick)
        remaining.remove(pick)
    assert got.tolist() == chosen


def test_adapter_reveals_new_labels_between_rounds():
    features, proba, labelled, labels, unlabelled = _problem(6)
    method = TripleMeasures()
    method.prepare(features, Context(seed=SEED))

    def state(rows, row_labels):
        return PoolState(features, rows, row_labels, np.setdiff1d(np.arange(N_POOL), rows), proba, None,
                         N_CLASSES, 1, 0, np.random.default_rng(SEED))

    first = method.select(state(labelled, labels))
    assert first.shape == (1,) and first[0] in unlabelled
    rows, row_labels = np.append(labelled, first), np.append(labels, 2)
    second = method.select(state(rows, row_labels))
    assert method.state_.labelled == rows.tolist() and second[0] not in rows
    fresh = TripleMeasureState(method.kernel_, N_CLASSES)
    fresh.reveal(rows, row_labels)
    np.testing.assert_allclose(method.state_.a_sum, fresh.a_sum, atol=1e-12)
