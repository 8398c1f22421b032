"""Tests of re-ID mAP and CMC, per query and resampled, against a per-query loop in the style of torchreid's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

from harness.metrics import MetricInputError, retrieval
from harness.stats import bootstrap_weights

from .conftest import N_CASES, assert_close, tied_values


def _ranked_matches(distmat, q_ids, g_ids, q_cams, g_cams, q, *, ties_against_match=True):
    """The 0/1 matches of query ``q`` down its ranked gallery, junk and same-camera matches removed.

    With ``ties_against_match`` the gallery is sorted by distance and then true matches
    last (``np.lexsort``); otherwise by ``np.argsort`` as in torchreid.
    """
    same_id = g_ids == q_ids[q]
    order = np.lexsort((same_id, distmat[q])) if ties_against_match else np.argsort(distmat[q])
    remove = ((g_ids[order] == q_ids[q]) & (g_cams[order] == q_cams[q])) | (g_ids[order] == -1)
    return same_id[order].astype(np.int32)[~remove]


def _torchreid_average_precision(raw_cmc):
    """Mean of the precision at each match, element by element as torchreid computes it."""
    precision = np.asarray([x / (i + 1.0) for i, x in enumerate(raw_cmc.cumsum())]) * raw_cmc
    return precision.sum() / raw_cmc.sum()


def _reference_per_query_loop(distmat, q_ids, g_ids, q_cams, g_cams, max_rank, *, ties_against_match=True):
    """torchreid's ``eval_market1501`` loop, with junk (-1) removed and an explicit tie rule.

    Known limits: one Python iteration per query and per gallery item, for small inputs only.
    """
    cmcs, average_precisions = [], []
    for q in range(len(q_ids)):
        raw_cmc = _ranked_matches(distmat, q_ids, g_ids, q_cams, g_cams, q, ties_against_match=ties_against_match)
        if not raw_cmc.any():
            continue
        cmc = np.minimum(raw_cmc.cumsum(), 1)
        cmc = np.concatenate([cmc, np.full(max(0, max_rank - cmc.size), cmc[-1])])[:max_rank]
        cmcs.append(cmc)
        average_precisions.append(_torchreid_average_precision(raw_cmc))
    if not cmcs:
        return None, None
    return float(np.mean(average_precisions)), np.mean(cmcs, axis=0)


def _reference_queries(distmat, q_ids, g_ids, q_cams, g_cams):
    """Per query, in query order: AP (NaN without a true match), first-match rank (-1 without) and valid."""
    average_precision, first_rank = np.full(len(q_ids), np.nan), np.full(len(q_ids), -1)
    for q in range(len(q_ids)):
        raw_cmc = _ranked_matches(distmat, q_ids, g_ids, q_cams, g_cams, q)
        if raw_cmc.any():
            average_precision[q] = _torchreid_average_precision(raw_cmc)
            first_rank[q] = int(np.flatnonzero(raw_cmc)[0])
    return average_precision, first_rank, first_rank >= 0


def _random_case(case: int):
    rng = np.random.default_rng([case, 40])
    n_q, n_g = int(rng.integers(1, 9)), int(rng.integers(1, 20))
    n_ids = int(rng.integers(1, 5))
    return (
        tied_values(rng, (n_q, n_g)),
        rng.integers(-1, n_ids, n_q),
        rng.integers(-1, n_ids, n_g),
        rng.integers(0, 3, n_q),
        rng.integers(0, 3, n_g),
    )


RANKS = (1, 2, 5, 10)


@pytest.mark.parametrize("case", range(4 * N_CASES))
def test_map_and_cmc_match_per_query_loop_with_ties_junk_and_distractors(case):
    arrays = _random_case(case)
    mean_ap, cmc = _reference_per_query_loop(*arrays, max_rank=max(RANKS))
    if mean_ap is None:
        with pytest.raises(MetricInputError, match=r"No query of reid_map_cmc has a true match"):
            retrieval.reid_map_cmc(*arrays, ranks=RANKS)
        return
    got = retrieval.reid_map_cmc(*arrays, ranks=RANKS)
    assert_close(got["mAP"], mean_ap, what="mAP")
    for rank in RANKS:
        assert_close(got[f"rank{rank}"], float(cmc[rank - 1]), what=f"rank{rank}")


def _market_like(seed: int, n_q: int = 60, n_g: int = 400, dtype=np.float32):
    """Embeddings of identities seen by 6 cameras, distractors (id 0) and junk (id -1)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((30, 16))
    q_ids, q_cams = rng.integers(1, 31, n_q), rng.integers(0, 6, n_q)
    g_ids, g_cams = rng.integers(-1, 31, n_g), rng.integers(0, 6, n_g)

    def embed(ids):
        return np.where(ids[:, None] > 0, centers[np.maximum(ids, 1) - 1], 0.0) + rng.standard_normal((ids.size, 16))

    q, g = embed(q_ids), embed(g_ids)
    distmat = np.sqrt(((q[:, None] - g[None]) ** 2).sum(-1))
    return distmat.astype(dtype), q_ids, g_ids, q_cams, g_cams


@pytest.mark.parametrize("seed", range(3))
def test_equals_torchreid_order_without_ties(seed, monkeypatch):
    monkeypatch.setattr(retrieval, "QUERIES_PER_BLOCK", 7)  # several blocks of queries
    arrays = _market_like(seed)
    mean_ap, cmc = _reference_per_query_loop(*arrays, max_rank=10, ties_against_match=False)
    got = retrieval.reid_map_cmc(*arrays)
    assert_close(got["mAP"], mean_ap, atol=1e-12)
    assert [got["rank1"], got["rank5"], got["rank10"]] == [float(cmc[0]), float(cmc[4]), float(cmc[9])]


def test_same_camera_matches_and_junk_are_removed():
    distmat = np.array([[0.1, 0.2, 0.3, 0.4]])
    g_ids = np.array([7, -1, 3, 7])
    g_cams = np.array([0, 1, 1, 1])  # gallery 0: same id, same camera -> removed; 1: junk -> removed
    got = retrieval.reid_map_cmc(distmat, np.array([7]), g_ids, np.array([0]), g_cams, ranks=(1, 2))
    assert got == {"mAP": 0.5, "rank1": 0.0, "rank2": 1.0}


def test_distractors_stay_as_false_matches():
    distmat = np.array([[0.1, 0.2]])
    got = retrieval.reid_map_cmc(distmat, np.array([5]), np.array([0, 5]), np.array([0]), np.array([1, 1]))
    assert got["mAP"] == 0.5 and got["rank1"] == 0.0


def test_dtypes_and_tensors():
    arrays = _market_like(4, n_q=20, n_g=100)
    expected = retrieval.reid_map_cmc(*arrays)
    as_tensors = [torch.from_numpy(np.asarray(a)) for a in arrays]
    assert retrieval.reid_map_cmc(*as_tensors) == expected
    assert retrieval.reid_map_cmc(arrays[0].astype(np.float64), *arrays[1:]) == expected
    assert retrieval.reid_map_cmc(*arrays, validate=False) == expected


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"g_ids": np.array([1, 2])}, r"`distmat.T`: 3, `g_ids`: 2, `g_cams`: 3", id="length"),
        pytest.param({"q_ids": np.array([1.5])}, r"`q_ids` of reid_map_cmc must be a 1-D integer array", id="float"),
        pytest.param({"distmat": np.array([[0.1, np.nan, 0.3]])}, r"got nan at index \(0, 1\)", id="nan"),
        pytest.param({"ranks": (0,)}, r"`ranks` .* positive integers; got \(0,\)", id="ranks"),
        pytest.param({"q_ids": np.array([9])}, r"No query of reid_map_cmc has a true match", id="no-match"),
    ],
)
def test_bad_input(change, match):
    arguments = {
        "distmat": np.array([[0.1, 0.2, 0.3]]),
        "q_ids": np.array([1]),
        "g_ids": np.array([1, 2, 3]),
        "q_cams": np.array([0]),
        "g_cams": np.array([1, 1, 1]),
    } | change
    ranks = arguments.pop("ranks", (1,))
    with pytest.raises(MetricInputError, match=match):
        retrieval.reid_map_cmc(**arguments, ranks=ranks)


def _integer_case(case: int):
    """Integer-valued distances (many ties, half the cases as an int64 matrix), junk and distractors."""
    rng = np.random.default_rng([case, 41])
    n_q, n_g, n_ids = int(rng.integers(1, 13)), int(rng.integers(1, 30)), int(rng.integers(1, 6))
    distmat = rng.integers(0, int(rng.integers(2, 6)), (n_q, n_g))
    return (
        distmat if case % 2 else distmat.astype(np.float64),
        rng.integers(-1, n_ids, n_q),
        rng.integers(-1, n_ids, n_g),
        rng.integers(0, 3, n_q),
        rng.integers(0, 3, n_g),
    )


@pytest.mark.parametrize("case", range(4 * N_CASES))
def test_per_query_values_match_the_per_query_loop_with_ties(case):
    arrays = _integer_case(case)
    average_precision, first_rank, valid = retrieval.reid_per_query(*arrays)
    expected_ap, expected_rank, expected_valid = _reference_queries(*arrays)
    assert average_precision.dtype == np.float64 and first_rank.dtype == np.int64 and valid.dtype == np.bool_
    np.testing.assert_array_equal(valid, expected_valid)
    np.testing.assert_array_equal(first_rank, expected_rank)
    np.testing.assert_allclose(average_precision, expected_ap, rtol=0, atol=1e-12)  # NaN where invalid, alike


@pytest.mark.parametrize("seed", range(3))
def test_per_query_average_precision_equals_sklearn_without_ties(seed, monkeypatch):
    monkeypatch.setattr(retrieval, "QUERIES_PER_BLOCK", 7)  # several blocks: values must come back in query order
    distmat, q_ids, g_ids, q_cams, g_cams = _market_like(seed, dtype=np.float64)
    assert all(np.unique(row).size == row.size for row in distmat)  # no ties, so scikit-learn's AP is torchreid's
    average_precision, first_rank, valid = retrieval.reid_per_query(distmat, q_ids, g_ids, q_cams, g_cams)
    assert valid.sum() > 40
    for q in range(len(q_ids)):
        kept = (g_ids != -1) & ~((g_ids == q_ids[q]) & (g_cams == q_cams[q]))
        is_match = g_ids[kept] == q_ids[q]
        if not is_match.any():
            assert not valid[q] and np.isnan(average_precision[q]) and first_rank[q] == -1
            continue
        expected = average_precision_score(y_true=is_match, y_score=-distmat[q, kept])
        assert average_precision[q] == pytest.approx(expected, abs=1e-12)
        assert first_rank[q] == np.sum(distmat[q, kept] < distmat[q, kept][is_match].min())


@pytest.mark.parametrize("case", range(N_CASES))
def test_resampled_values_match_repeated_queries(case):
    arrays = _integer_case(case)
    average_precision, first_rank, valid = retrieval.reid_per_query(*arrays)
    expected_ap, expected_rank, _ = _reference_queries(*arrays)
    weights = bootstrap_weights(len(valid), 30, seed=case)
    got = retrieval.reid_resampled(average_precision, first_rank, valid, weights, ranks=RANKS)
    assert set(got) == {"mAP"} | {f"rank{k}" for k in RANKS}
    for b, counts in enumerate(weights.astype(int)):
        kept = np.repeat(np.flatnonzero(valid), counts[valid])  # the resample's queries with a true match
        if kept.size == 0:
            assert all(np.isnan(values[b]) for values in got.values())
            continue
        assert got["mAP"][b] == pytest.approx(expected_ap[kept].mean(), abs=1e-12)
        for k in RANKS:
            assert got[f"rank{k}"][b] == pytest.approx(np.mean(expected_rank[kept] < k), abs=1e-12)


def test_resampled_with_fractional_weights_is_the_weighted_mean(rng):
    average_precision, first_rank, valid = retrieval.reid_per_query(*_market_like(5))
    weights = rng.random((7, valid.size))
    got = retrieval.reid_resampled(average_precision, first_rank, valid, weights)
    for b, w in enumerate(weights):
        w_valid = w * valid
        assert got["mAP"][b] == pytest.approx(np.nansum(w_valid * average_precision) / w_valid.sum(), abs=1e-12)
        assert got["rank5"][b] == pytest.approx(np.sum(w_valid * (first_rank < 5)) / w_valid.sum(), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_resampled_with_unit_weights_equals_map_cmc(seed):
    arrays = _market_like(seed)
    expected = retrieval.reid_map_cmc(*arrays, ranks=RANKS)
    per_query = retrieval.reid_per_query(*arrays)
    got = retrieval.reid_resampled(*per_query, np.ones((1, len(arrays[1]))), ranks=RANKS)
    assert got.keys() == expected.keys()
    for name, value in expected.items():
        assert got[name].shape == (1,)
        assert got[name][0] == pytest.approx(value, abs=1e-12), name


def test_per_query_without_any_true_match_is_all_invalid():
    distmat = np.array([[0.1, 0.2], [0.3, 0.4]])
    average_precision, first_rank, valid = retrieval.reid_per_query(
        distmat, np.array([8, 9]), np.array([1, -1]), np.array([0, 0]), np.array([1, 1])
    )
    assert np.isnan(average_precision).all() and first_rank.tolist() == [-1, -1] and not valid.any()
    got = retrieval.reid_resampled(average_precision, first_rank, valid, np.ones((2, 2)), ranks=(1,))
    assert np.isnan(got["mAP"]).all() and np.isnan(got["rank1"]).all()


def test_per_query_validates_and_accepts_tensors():
    arrays = _market_like(4, n_q=20, n_g=100)
    expected = retrieval.reid_per_query(*arrays)
    for got in (
        retrieval.reid_per_query(*[torch.from_numpy(np.asarray(a)) for a in arrays]),
        retrieval.reid_per_query(*arrays, validate=False),
    ):
        for got_values, expected_values in zip(got, expected, strict=True):
            np.testing.assert_array_equal(got_values, expected_values)
    with pytest.raises(MetricInputError, match=r"`g_cams` of reid_per_query must be a 1-D integer array"):
        retrieval.reid_per_query(*arrays[:4], arrays[4].astype(float))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        pytest.param({"weights": np.ones((2, 3))}, r"`weights.T`: 3", id="length"),
        pytest.param({"weights": np.ones(4)}, r"`weights` of reid_resampled must have shape", id="1-D"),
        pytest.param({"weights": -np.ones((1, 4))}, r"must be non-negative", id="negative"),
        pytest.param({"weights": np.full((1, 4), np.inf)}, r"`weights` of reid_resampled must be finite", id="inf"),
        pytest.param({"valid": np.array([1, 1, 0, 1])}, r"an integer and a bool array", id="valid-int"),
        pytest.param({"ap": np.array([0.5, np.nan, np.nan, 1.0])}, r"`ap\[valid\]` .* must be finite", id="nan"),
        pytest.param({"ranks": ()}, r"`ranks` of reid_resampled must be a non-empty", id="ranks"),
    ],
)
def test_resampled_bad_input(change, match):
    arguments = {
        "ap": np.array([0.5, 1.0, np.nan, 1.0]),
        "first_rank": np.array([1, 0, -1, 0]),
        "valid": np.array([True, True, False, True]),
        "weights": np.ones((2, 4)),
    } | change
    ranks = arguments.pop("ranks", (1,))
    with pytest.raises(MetricInputError, match=match):
        retrieval.reid_resampled(**arguments, ranks=ranks)
