"""The fedrec baselines on the tiny synthetic subset: valid predictions, popularity by hand, the adapters' rounds."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.fedrec import CentralMF, FedMF, FedNCF, PFedRec, Popularity
from harness.api import Context
from harness.cards import load_card, resolve_dataset
from harness.tracks.fedrec import FedRecTrack

SEED = 0


@pytest.fixture(scope="module")
def tiny(data_root):
    card = load_card("synth_movielens")
    root = resolve_dataset(card, data_root)
    track = FedRecTrack()
    budget = track.budget("smoke", n_rounds=3)
    args = (root, card, "tiny", budget)
    return track, budget, track.load_train(*args), track.load_test_inputs(*args), track.load_truth(*args)


def test_popularity_counts_training_users_and_validates_on_training_counts_only(tiny):
    track, budget, train, inputs, truth = tiny
    method = Popularity()
    method.fit(train, budget, Context(seed=SEED))
    predictions = method.predict(inputs)
    track.validate(predictions, truth)
    counts = np.bincount(train.train_items, minlength=train.n_items)
    counts += np.bincount(train.val_candidates[:, 0], minlength=train.n_items)
    np.testing.assert_array_equal(predictions["sampled_scores"], counts[inputs.candidates])
    np.testing.assert_array_equal(predictions["full_scores"][3], counts)
    val = np.bincount(train.train_items, minlength=train.n_items)[train.val_candidates]
    assert predictions["val_hr"][0] == pytest.approx(np.mean((val[:, 1:] >= val[:, :1]).sum(1) < 10))
    assert predictions["bytes_up"][0] > 0 and predictions["bytes_up"][1:].sum() == 0
    metrics = track.evaluate(predictions, truth)
    assert metrics["erank_global"] == pytest.approx(1.0) and metrics["uniformity_global"] == pytest.approx(0.0)


@pytest.mark.parametrize("method_cls", [FedMF, FedNCF, PFedRec, CentralMF])
def test_each_baseline_returns_valid_predictions_of_its_best_round(tiny, method_cls):
    track, budget, train, inputs, truth = tiny
    method = method_cls()
    method.fit(train, budget, Context(seed=SEED))
    predictions = method.predict(inputs)
    track.validate(predictions, truth)
    metrics = track.evaluate(predictions, truth)
    assert 0 <= metrics["hr_at_10"] <= 1 and metrics["erank_global"] > 1
    assert metrics["val_hr_at_10"] == pytest.approx(predictions["val_hr"].max())
    assert predictions["item_emb_global"].shape == (train.n_items, budget.embedding_dim)
    if method_cls is PFedRec:  # personalised tables differ from the global one
        assert not np.allclose(predictions["item_emb_personal"][0], predictions["item_emb_global"])
    elif method_cls is not CentralMF:
        np.testing.assert_array_equal(predictions["item_emb_personal"][0], predictions["item_emb_global"])
        assert (predictions["bytes_down"] > 0).all() and (predictions["bytes_up"] > 0).all()
