"""Tests of HR@K, NDCG@K and MRR against a per-user loop, and a cross-check with torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.retrieval import RetrievalHitRate, RetrievalMRR, RetrievalNormalizedDCG

from harness.metrics import MetricInputError, ranking

from .conftest import N_CASES, assert_close, tied_values


def _reference_loop(scores, relevance, exclude, k):
    """Per-user lists sorted by score descending, irrelevant items first among equal scores.

    Returns the mean HR@k, NDCG@k and MRR over users with a relevant item. Known limits:
    a Python loop over users and items, for small inputs only.
    """
    hits, ndcgs, reciprocal_ranks = [], [], []
    for user in range(scores.shape[0]):
        if not relevance[user].any():
            continue
        items = [i for i in range(scores.shape[1]) if exclude is None or not exclude[user, i]]
        items.sort(key=lambda i: (-scores[user, i], bool(relevance[user, i])))
        ranked = [bool(relevance[user, i]) for i in items]
        dcg = sum(1.0 / np.log2(rank + 2) for rank, rel in enumerate(ranked[:k]) if rel)
        idcg = sum(1.0 / np.log2(rank + 2) for rank in range(min(k, int(relevance[user].sum()))))
        hits.append(float(any(ranked[:k])))
        ndcgs.append(dcg / idcg)
        reciprocal_ranks.append(1.0 / (ranked.index(True) + 1))
    return float(np.mean(hits)), float(np.mean(ndcgs)), float(np.mean(reciprocal_ranks))


def _random_case(case: int):
    rng = np.random.default_rng([case, 30])
    shape = (int(rng.integers(1, 8)), int(rng.integers(1, 14)))
    scores = tied_values(rng, shape)
    relevance = rng.random(shape) < rng.uniform(0.05, 0.5)
    relevance[rng.integers(shape[0]), rng.integers(shape[1])] = True
    exclude = (rng.random(shape) < 0.3) & ~relevance if case % 2 else None
    return scores, relevance, exclude, int(rng.integers(1, 16))


@pytest.mark.parametrize("case", range(4 * N_CASES))
def test_metrics_match_per_user_loop_with_ties_and_exclusions(case):
    scores, relevance, exclude, k = _random_case(case)
    hr, ndcg, mrr = _reference_loop(scores, relevance, exclude, k)
    assert_close(ranking.hit_rate_at_k(scores, relevance, k=k, exclude=exclude), hr, what="hr")
    assert_close(ranking.ndcg_at_k(scores, relevance, k=k, exclude=exclude), ndcg, what="ndcg")
    assert_close(ranking.mrr(scores, relevance, exclude=exclude), mrr, what="mrr")


def test_sampled_protocol_positive_in_column_zero():
    rng = np.random.default_rng(31)
    scores = tied_values(rng, (50, 100), n_levels=20)
    relevance = np.zeros(scores.shape, dtype=bool)
    relevance[:, 0] = True
    hr, ndcg, mrr = _reference_loop(scores, relevance, None, 10)
    assert_close(ranking.hit_rate_at_k(scores, relevance, k=10), hr)
    assert_close(ranking.ndcg_at_k(scores, relevance, k=10), ndcg)
    assert_close(ranking.mrr(scores, relevance), mrr)


def test_constant_scores_get_no_credit():
    relevance = np.zeros((3, 100), dtype=bool)
    relevance[:, 0] = True
    scores = np.zeros((3, 100))
    assert ranking.hit_rate_at_k(scores, relevance, k=10) == 0.0
    assert ranking.ndcg_at_k(scores, relevance, k=10) == 0.0
    assert ranking.mrr(scores, relevance) == 1 / 100


def test_excluded_items_take_no_place():
    scores = np.array([[0.9, 0.8, 0.1]])
    relevance = np.array([[False, False, True]])
    exclude = np.array([[True, True, False]])
    assert ranking.hit_rate_at_k(scores, relevance, k=1, exclude=exclude) == 1.0
    assert ranking.mrr(scores, relevance, exclude=exclude) == 1.0


def test_users_without_relevant_items_are_left_out():
    scores = np.array([[0.9, 0.1], [0.9, 0.1]])
    relevance = np.array([[True, False], [False, False]])
    assert ranking.ndcg_at_k(scores, relevance, k=1) == 1.0
    out = ranking.ranking_per_user(scores, relevance, k=1)
    assert out["user"].tolist() == [0]


def test_per_user_arrays_average_to_the_means():
    scores, relevance, exclude, k = _random_case(3)
    out = ranking.ranking_per_user(scores, relevance, k=k, exclude=exclude)
    hr, ndcg, mrr = _reference_loop(scores, relevance, exclude, k)
    assert_close(float(out["hit"].mean()), hr)
    assert_close(float(out["ndcg"].mean()), ndcg)
    assert_close(float(out["reciprocal_rank"].mean()), mrr)


@pytest.mark.parametrize("case", range(5))
def test_cross_check_torchmetrics_without_ties(case):
    """torchmetrics breaks ties by its sort order; without ties the values are equal."""
    rng = np.random.default_rng([case, 32])
    scores = rng.random((6, 12))
    relevance = rng.random((6, 12)) < 0.25
    relevance[:, case % 12] = True
    exclude = (rng.random((6, 12)) < 0.2) & ~relevance
    keep = ~exclude
    preds = torch.from_numpy(scores[keep])
    target = torch.from_numpy(relevance[keep])
    indexes = torch.from_numpy(np.nonzero(keep)[0])
    for k in (1, 3, 5):
        ndcg = RetrievalNormalizedDCG(top_k=k, empty_target_action="skip")(preds, target, indexes=indexes)
        hit = RetrievalHitRate(top_k=k, empty_target_action="skip")(preds, target, indexes=indexes)
        assert_close(ranking.ndcg_at_k(scores, relevance, k=k, exclude=exclude), float(ndcg), atol=1e-6)
        assert_close(ranking.hit_rate_at_k(scores, relevance, k=k, exclude=exclude), float(hit), atol=1e-6)
    mrr = RetrievalMRR(empty_target_action="skip")(preds, target, indexes=indexes)
    assert_close(ranking.mrr(scores, relevance, exclude=exclude), float(mrr), atol=1e-6)


def test_dtypes_and_tensors():
    scores, relevance, exclude, k = _random_case(5)
    expected = _reference_loop(scores, relevance, exclude, k)[1]
    assert_close(ranking.ndcg_at_k(scores.astype(np.float32), relevance, k=k, exclude=exclude), expected)
    assert_close(ranking.ndcg_at_k((scores * 6).astype(np.int64), relevance, k=k, exclude=exclude), expected)
    got = ranking.ndcg_at_k(torch.from_numpy(scores), torch.from_numpy(relevance), k=k, exclude=exclude)
    assert_close(got, expected)
    assert_close(ranking.ndcg_at_k(scores, relevance.astype(int), k=k, exclude=exclude, validate=False), expected)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(
            lambda: ranking.ndcg_at_k(np.zeros((2, 3)), np.zeros((2, 3))),
            r"no relevant candidate for any of the 2 users",
            id="no-relevant",
        ),
        pytest.param(
            lambda: ranking.ndcg_at_k(np.zeros((1, 3)), np.eye(3)[:1], exclude=np.eye(3)[:1]),
            r"candidate 0 of user 0 is both relevant and excluded",
            id="overlap",
        ),
        pytest.param(lambda: ranking.hit_rate_at_k(np.zeros((1, 3)), np.eye(3)[:1], k=0), r"`k` .* got 0", id="k"),
        pytest.param(
            lambda: ranking.mrr(np.zeros((1, 3)), np.eye(2)[:1]),
            r"got \(1, 3\) and \(1, 2\)\. Row u and column i",
            id="shape",
        ),
        pytest.param(
            lambda: ranking.mrr(np.array([[0.0, np.nan]]), np.eye(2)[:1]), r"got nan at index \(0, 1\)", id="nan"
        ),
        pytest.param(
            lambda: ranking.mrr(np.zeros(3), np.eye(3)[0]), r"must have shape \(n_users, n_candidates\)", id="1d"
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
