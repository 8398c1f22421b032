"""The seqrec track: what a job receives (no held-out item leaks), and its metrics against a slow loop with ties."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.api import Predictions
from harness.cards import load_card
from harness.errors import InvalidPredictionError
from harness.tracks.seqrec.contract import SeqRecTruth, pad_histories
from harness.tracks.seqrec.synth import generate
from harness.tracks.seqrec.track import SeqRecTrack


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("seqrec") / "data"
    generate(root, preset="tiny")
    track = SeqRecTrack()
    track.cache_root = tmp_path_factory.mktemp("cache")
    budget = track.budget("smoke")
    card = load_card("synth_amazon")
    return track, root, card, budget


def _slow(full, truth):
    out = {f"{m}_{k}": [] for m in ("hit", "ndcg") for k in (5, 10, 20)}
    out.update(rr=[], sampled_hit=[], sampled_ndcg=[])
    for u in range(len(truth)):
        t = truth.test_items[u]
        others = [j for j in range(truth.n_items) if j != t and not truth.seen[u, j]]
        rank = 1 + sum(full[u, j] >= full[u, t] for j in others)  # ties count against the test item
        for k in (5, 10, 20):
            out[f"hit_{k}"].append(float(rank <= k))
            out[f"ndcg_{k}"].append(1 / math.log2(rank + 1) if rank <= k else 0.0)
        out["rr"].append(1 / rank)
        negatives = truth.candidates[u, 1:]
        srank = 1 + sum(full[u, j] >= full[u, t] for j in negatives)
        out["sampled_hit"].append(float(srank <= 10))
        out["sampled_ndcg"].append(1 / math.log2(srank + 1) if srank <= 10 else 0.0)
    return {k: np.mean(v) for k, v in out.items()}


def test_metrics_match_a_slow_loop_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    track = SeqRecTrack()
    for trial in range(5):
        n_users, n_items = 30, 130
        seen = rng.random((n_users, n_items)) < 0.1
        test = np.array([rng.choice(np.flatnonzero(~seen[u])) for u in range(n_users)])
        candidates = np.stack([np.concatenate([[test[u]], rng.choice(
            np.setdiff1d(np.flatnonzero(~seen[u]), [test[u]]), 100, replace=False)]) for u in range(n_users)])
        truth = SeqRecTruth(test, seen, candidates)
        full = rng.integers(0, 6, size=(n_users, n_items)).astype(np.float32)  # many ties
        got = track.evaluate(Predictions.of(full_scores=full), truth)
        slow = _slow(full, truth)
        for k in (5, 10, 20):
            assert got[f"hr_at_{k}"] == pytest.approx(slow[f"hit_{k}"]), trial
            assert got[f"ndcg_at_{k}"] == pytest.approx(slow[f"ndcg_{k}"]), trial
        assert got["mrr"] == pytest.approx(slow["rr"])
        assert got["sampled_hr_at_10"] == pytest.approx(slow["sampled_hit"])
        assert got["sampled_ndcg_at_10"] == pytest.approx(slow["sampled_ndcg"])
        items = track.item_results(Predictions.of(full_scores=full), truth)
        again = track.resample_metrics(items, np.ones((1, n_users)))
        assert again["ndcg_at_10"][0] == pytest.approx(got["ndcg_at_10"])


def test_a_constant_scorer_gets_no_credit():
    seen = np.zeros((3, 120), dtype=bool)
    truth = SeqRecTruth(np.array([0, 1, 2]), seen, np.tile(np.arange(101), (3, 1)))
    got = SeqRecTrack().evaluate(Predictions.of(full_scores=np.zeros((3, 120), np.float32)), truth)
    assert got["hr_at_20"] == 0.0 and got["sampled_hr_at_10"] == 0.0


def test_jobs_receive_no_held_out_item(tiny):
    track, root, card, budget = tiny
    subsets = track.grid_subsets(root, card, budget)
    assert subsets == ["Books", "CDs_and_Vinyl", "Movies_and_TV"]
    split = track._split(root, card, budget)
    for target in subsets:
        train = track.load_train(root, card, target, budget)
        inputs = track.load_test_inputs(root, card, target, budget)
        truth = track.load_truth(root, card, target, budget)
        assert sorted(train.domains) == subsets and train.target == target
        for name, d in train.domains.items():  # every domain lost its last two events per user
            full = split.domains[name]
            assert np.array_equal(np.diff(d.indptr), np.diff(full.indptr) - 2)
            for row in range(d.n_users):
                assert np.array_equal(d.sequence(row), full.items[full.indptr[row]:full.indptr[row + 1] - 2])
        d = train.domain
        assert np.array_equal(inputs.users, d.users) and len(train.val_items) == d.n_users
        for row in range(len(inputs)):
            history = inputs.sequence(row)
            assert np.array_equal(history, np.append(d.sequence(row), train.val_items[row]))
            assert truth.test_items[row] not in history and truth.seen[row, history].all()
            assert truth.seen[row].sum() == len(history)
        assert (truth.candidates[:, 0] == truth.test_items).all()


def test_predictions_are_checked(tiny):
    track, root, card, budget = tiny
    truth = track.load_truth(root, card, "Books", budget)
    n_users, n_items = len(truth), truth.n_items
    with pytest.raises(InvalidPredictionError):
        track.validate(Predictions.of(full_scores=np.zeros((n_users, n_items - 1), np.float32)), truth)
    bad = np.zeros((n_users, n_items), np.float32)
    bad[0, 0] = np.nan
    with pytest.raises(InvalidPredictionError):
        track.validate(Predictions.of(full_scores=bad), truth)
    with pytest.raises(InvalidPredictionError, match="one length"):
        track.validate(Predictions.of(full_scores=np.zeros((n_users, n_items), np.float32),
                                      lm_tokens=np.arange(3.0), lm_lr=np.arange(4.0)), truth)


def test_pad_histories_keeps_the_most_recent_items():
    assert pad_histories(np.array([0, 4, 4]), np.array([1, 2, 3, 4]), 3).tolist() == [[3, 4, 5], [0, 0, 0]]


def test_the_card_of_the_default_names_the_track(tiny):
    _, root, card, _ = tiny
    assert card.track == "seqrec" and Path(root).is_dir()
