"""Tests of re-ID mAP and CMC against a per-query loop in the style of torchreid's evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.metrics import MetricInputError, retrieval

from .conftest import N_CASES, assert_close, tied_values


def _reference_per_query_loop(distmat, q_ids, g_ids, q_cams, g_cams, max_rank, *, ties_against_match=True):
    """torchreid's ``eval_market1501`` loop, with junk (-1) removed and an explicit tie rule.

    With ``ties_against_match`` the gallery is sorted by distance and then true matches
    last (``np.lexsort``); otherwise by ``np.argsort`` as in torchreid. Known limits: one
    Python iteration per query and per gallery item, for small inputs only.
    """
    cmcs, average_precisions = [], []
    for q in range(len(q_ids)):
        same_id = g_ids == q_ids[q]
        order = np.lexsort((same_id, distmat[q])) if ties_against_match else np.argsort(distmat[q])
        remove = ((g_ids[order] == q_ids[q]) & (g_cams[order] == q_cams[q])) | (g_ids[order] == -1)
        raw_cmc = (g_ids[order] == q_ids[q]).astype(np.int32)[~remove]
        if not raw_cmc.any():
            continue
        cmc = np.minimum(raw_cmc.cumsum(), 1)
        cmc = np.concatenate([cmc, np.full(max(0, max_rank - cmc.size), cmc[-1])])[:max_rank]
        cmcs.append(cmc)
        precision = np.asarray([x / (i + 1.0) for i, x in enumerate(raw_cmc.cumsum())]) * raw_cmc
        average_precisions.append(precision.sum() / raw_cmc.sum())
    if not cmcs:
        return None, None
    return float(np.mean(average_precisions)), np.mean(cmcs, axis=0)


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


def _market_like(seed: int, n_q: int = 60, n_g: int = 400):
    """Embeddings of identities seen by 6 cameras, distractors (id 0) and junk (id -1)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((30, 16))
    q_ids, q_cams = rng.integers(1, 31, n_q), rng.integers(0, 6, n_q)
    g_ids, g_cams = rng.integers(-1, 31, n_g), rng.integers(0, 6, n_g)

    def embed(ids):
        return np.where(ids[:, None] > 0, centers[np.maximum(ids, 1) - 1], 0.0) + rng.standard_normal((ids.size, 16))

    q, g = embed(q_ids), embed(g_ids)
    distmat = np.sqrt(((q[:, None] - g[None]) ** 2).sum(-1))
    return distmat.astype(np.float32), q_ids, g_ids, q_cams, g_cams


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
