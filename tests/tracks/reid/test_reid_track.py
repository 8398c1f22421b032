"""The reid track: distances, scores against an independent per-query loop, the protocol, bad predictions."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from harness import api
from harness.api import Predictions
from harness.errors import InvalidPredictionError, ParbenchError
from harness.tracks.reid.track import ReidTrack, ReidTruth, distance_matrix

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reid_cases import tiny_data, tiny_root  # noqa: E402


def _slow_scores(distmat, truth):
    """mAP and CMC rank-1/5/10 by a per-query loop over a stable sort (the Market-1501 protocol)."""
    aps, firsts = [], []
    for q in range(distmat.shape[0]):
        keep = ~((truth.gallery_pids == truth.query_pids[q]) & (truth.gallery_camids == truth.query_camids[q]))
        d, pids = distmat[q, keep], truth.gallery_pids[keep]
        match = pids == truth.query_pids[q]
        hits, precision_sum = 0, 0.0
        order = np.lexsort((match, d))  # by distance; within a tie true matches last (ties count against them)
        ranked = match[order]
        for rank, is_match in enumerate(ranked, start=1):
            if is_match:
                hits += 1
                precision_sum += hits / rank
        aps.append(precision_sum / match.sum())
        firsts.append(int(np.flatnonzero(ranked)[0]))
    firsts = np.array(firsts)
    return {"mAP": float(np.mean(aps)), "rank1": float((firsts < 1).mean()), "rank5": float((firsts < 5).mean()),
            "rank10": float((firsts < 10).mean())}


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_distance_matrix_matches_scipy(distance):
    rng = np.random.default_rng(0)
    q, g = rng.normal(size=(7, 5)), rng.normal(size=(11, 5))
    np.testing.assert_allclose(distance_matrix(q, g, distance), cdist(q, g, distance), atol=1e-9)


def test_distance_matrix_rejects_an_unknown_distance():
    with pytest.raises(ValueError, match="euclidean"):
        distance_matrix(np.zeros((1, 2)), np.zeros((1, 2)), "manhattan")


@pytest.fixture(scope="module")
def tiny():
    return tiny_data()


def test_scores_match_a_per_query_loop_on_rounded_distances_with_ties(tiny):
    track, _, _, _, truth = tiny
    rng = np.random.default_rng(1)
    for _ in range(3):
        distmat = rng.integers(0, 4, size=(len(truth.query_pids), len(truth.gallery_pids))).astype(np.float64)
        predictions = Predictions.of(distmat=distmat)
        track.validate(predictions, truth)
        got = track.evaluate(predictions, truth)
        want = _slow_scores(distmat, truth)
        assert got == pytest.approx(want)
        items = track.item_results(predictions, truth)
        ones = track.resample_metrics(items, np.ones((2, len(truth))))
        assert {k: v[0] for k, v in ones.items()} == pytest.approx(got)


def test_features_and_their_distance_give_the_same_scores_as_the_distmat(tiny):
    track, _, _, _, truth = tiny
    rng = np.random.default_rng(2)
    q, g = rng.normal(size=(len(truth), 6)), rng.normal(size=(len(truth.gallery_pids), 6))
    for distance in ("euclidean", "cosine"):
        features = Predictions.of(query_features=q, gallery_features=g, distance=np.array(distance))
        track.validate(features, truth)
        assert track.evaluate(features, truth) == pytest.approx(
            track.evaluate(Predictions.of(distmat=cdist(q, g, distance)), truth))


def test_identity_features_score_one_and_the_cmc_curve_rises(tiny):
    track, _, _, _, truth = tiny
    ids = np.unique(np.concatenate([truth.query_pids, truth.gallery_pids]))
    one_hot = lambda pids: (pids[:, None] == ids[None, :]).astype(np.float64)  # noqa: E731
    perfect = Predictions.of(query_features=one_hot(truth.query_pids), gallery_features=one_hot(truth.gallery_pids))
    assert track.evaluate(perfect, truth) == pytest.approx({"mAP": 1.0, "rank1": 1.0, "rank5": 1.0, "rank10": 1.0})
    rng = np.random.default_rng(3)
    cmc = track.diagnostics(Predictions.of(distmat=rng.random((len(truth), len(truth.gallery_pids)))), truth)["cmc"]
    assert cmc.shape == (50,) and (np.diff(cmc) >= 0).all() and cmc[-1] <= 1


def test_inputs_carry_no_identities_and_the_order_is_shared_with_the_truth(tiny):
    track, _, train, inputs, truth = tiny
    assert not hasattr(inputs, "query_pids") and not hasattr(inputs, "pids")
    assert len(inputs) == len(truth) and len(inputs.gallery) == len(truth.gallery_pids)
    hidden = train.visible(identities=False, cameras=False)
    assert hidden.pids is None and hidden.camids is None and hidden.images is train.images
    order = api.test_order(len(truth), 5)
    moved, moved_truth = inputs.take(order), truth.take(order)
    np.testing.assert_array_equal(moved.query, inputs.query[order])
    np.testing.assert_array_equal(moved.gallery, inputs.gallery)
    np.testing.assert_array_equal(moved_truth.query_pids, truth.query_pids[order])
    assert moved_truth.query_paths == [truth.query_paths[i] for i in order]


def test_the_gallery_is_not_in_file_order(tiny):
    _, _, _, _, truth = tiny
    assert truth.gallery_paths != sorted(truth.gallery_paths)
    assert sorted(truth.gallery_paths) == sorted(set(truth.gallery_paths))


def test_validate_rejects_bad_predictions(tiny):
    track, _, _, _, truth = tiny
    n_q, n_g = len(truth), len(truth.gallery_pids)
    bad = [
        (Predictions.of(scores=np.zeros(n_q)), "distmat"),
        (Predictions.of(distmat=np.zeros((n_q, n_g - 1))), "shape"),
        (Predictions.of(distmat=np.full((n_q, n_g), np.nan)), "finite|NaN|nan"),
        (Predictions.of(query_features=np.zeros((n_q, 3)), gallery_features=np.zeros((n_g, 4))), "shape"),
        (Predictions.of(query_features=np.zeros((n_q, 3)), gallery_features=np.zeros((n_g, 3)),
                        distance=np.array("manhattan")), "manhattan"),
    ]
    for predictions, pattern in bad:
        with pytest.raises(InvalidPredictionError, match=pattern):
            track.validate(predictions, truth)


def test_a_query_without_a_cross_camera_match_is_an_error_naming_it(tmp_path):
    import shutil

    root = tmp_path / "synth_market"
    shutil.copytree(tiny_root(), root)
    query = sorted((root / "query").iterdir())[0]
    pid, cam = query.name[:4], query.name[5]
    for path in (root / "bounding_box_test").iterdir():
        if path.name.startswith(pid + "_") and path.name[6] != cam:
            path.unlink()
    from harness.cards import load_card

    track = ReidTrack()
    with pytest.raises(ParbenchError, match=query.name):
        track.load_truth(root, load_card("synth_market"), "all", track.budget("smoke"))


def test_truth_take_keeps_the_gallery():
    truth = ReidTruth(np.array([1, 2]), np.array([0, 1]), np.array([1, 2, 0]), np.array([1, 0, 0]), ["a", "b"],
                      ["x", "y", "z"], (8, 4))
    moved = truth.take(np.array([1, 0]))
    assert moved.query_pids.tolist() == [2, 1] and moved.gallery_paths == ["x", "y", "z"]
