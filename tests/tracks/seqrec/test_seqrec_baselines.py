"""The ID-based baselines of the seqrec track on the toy data: shapes, determinism, learning, popularity counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from baselines.seqrec import BERT4Rec, GRU4Rec, Popularity, SASRec
from baselines.seqrec._common import sequence_windows, trim_padding
from baselines.seqrec.sasrec import sample_negatives
from harness.api import Context
from harness.errors import ParbenchError
from harness.tracks.seqrec.budget import SeqRecBudget
from harness.tracks.seqrec.contract import SeqRecInputs, toy_train

#: Small enough for about a second of training per model on one CPU thread.
BUDGET = SeqRecBudget(steps=200, max_len=12, embedding_dim=32, batch_size=32)
LEARNED = [
    pytest.param(GRU4Rec, None, id="gru4rec"),
    pytest.param(SASRec, None, id="sasrec-bce"),
    pytest.param(SASRec, {"loss": "ce"}, id="sasrec-ce"),
    pytest.param(BERT4Rec, None, id="bert4rec"),
]


@pytest.fixture(scope="module")
def toy():
    """150 users: enough that HR@10 differences of 0.1 are not noise."""
    return toy_train(150)


@pytest.fixture(scope="module")
def val_inputs(toy):
    """The training sequences as histories: their next item is the validation item, which no model trains on."""
    domain = toy[0].domain
    return SeqRecInputs(domain.name, domain.users, domain.indptr, domain.items, domain.times, domain.n_items)


def fit(cls, overrides, train, budget=BUDGET, seed=0):
    return cls(cls.make_config(overrides)).fit(train, budget, Context(seed=seed))


def hit_rate_at_10(scores, inputs, targets):
    """Obvious loop: history items masked, the target's rank counts items scored strictly higher, then ties."""
    hits = 0
    for row, target in enumerate(targets):
        seen = set(inputs.sequence(row).tolist()) - {int(target)}
        others = [s for item, s in enumerate(scores[row]) if item not in seen and item != target]
        hits += sum(s >= scores[row, target] for s in others) < 10
    return hits / len(targets)


@pytest.fixture(scope="module")
def popularity_hr(toy, val_inputs):
    model = fit(Popularity, None, toy[0])
    return hit_rate_at_10(model.score(val_inputs), val_inputs, toy[0].val_items)


@pytest.mark.parametrize(("cls", "overrides"), [pytest.param(Popularity, None, id="popularity"), *LEARNED])
def test_predictions_shape_and_dtype(cls, overrides, toy):
    train, inputs = toy
    predictions = fit(cls, overrides, train, SeqRecBudget(steps=5, max_len=12, embedding_dim=32, batch_size=8))
    scores = predictions.predict(inputs).check("full_scores", shape=(len(inputs), inputs.n_items))
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()


@pytest.mark.parametrize(("cls", "overrides"), LEARNED)
def test_learned_models_beat_popularity(cls, overrides, toy, val_inputs, popularity_hr):
    model = fit(cls, overrides, toy[0])
    hr = hit_rate_at_10(model.score(val_inputs), val_inputs, toy[0].val_items)
    assert hr > popularity_hr + 0.1, (hr, popularity_hr)
    assert model.val_hr_ == pytest.approx(hr)  # the logged validation HR is the same measure


@pytest.mark.parametrize(("cls", "overrides"), LEARNED)
def test_same_seed_same_scores(cls, overrides, toy):
    train, inputs = toy
    budget = SeqRecBudget(steps=20, max_len=12, embedding_dim=32, batch_size=16)
    first = fit(cls, overrides, train, budget, seed=3).score(inputs)
    second = fit(cls, overrides, train, budget, seed=3).score(inputs)
    other = fit(cls, overrides, train, budget, seed=4).score(inputs)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_rows_depend_on_their_history_only(toy):
    train, inputs = toy
    model = fit(SASRec, None, train, SeqRecBudget(steps=20, max_len=12, embedding_dim=32, batch_size=16))
    order = np.arange(len(inputs))[::-1]
    lengths = np.diff(inputs.indptr)[order]
    reversed_inputs = SeqRecInputs(inputs.domain, inputs.users[order],
                                   np.concatenate([[0], np.cumsum(lengths)]),
                                   np.concatenate([inputs.sequence(row) for row in order]),
                                   np.concatenate([inputs.times[inputs.indptr[r]:inputs.indptr[r + 1]] for r in order]),
                                   inputs.n_items)
    np.testing.assert_allclose(model.score(reversed_inputs), model.score(inputs)[order], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("cls", "overrides"), LEARNED)
def test_trimmed_padding_gives_the_same_scores(cls, overrides, toy):
    """Dropping all-padding leading columns (how batches are cut to their longest row) changes no output."""
    import torch

    train, inputs = toy
    model = fit(cls, overrides, train, SeqRecBudget(steps=10, max_len=30, embedding_dim=32, batch_size=16))
    tokens = model.tokens(inputs.indptr, inputs.items)
    trimmed = trim_padding(tokens)
    assert trimmed.shape[1] < tokens.shape[1]
    with torch.no_grad():
        full = model.model_.logits(model.model_(torch.from_numpy(tokens))[:, -1])
        short = model.model_.logits(model.model_(torch.from_numpy(trimmed))[:, -1])
    np.testing.assert_allclose(short.numpy(), full.numpy(), rtol=1e-4, atol=1e-4)


def test_popularity_counts_training_events_of_the_target_domain():
    train, inputs = toy_train(30, (12, 9), seed=1, target=1)
    counts = Counter(train.domains["D1"].items.tolist())
    expected = np.array([counts[item] for item in range(train.n_items)], dtype=np.float32)
    scores = fit(Popularity, None, train).score(inputs)
    assert scores.shape == (len(inputs), 9)
    np.testing.assert_array_equal(scores, np.broadcast_to(expected, scores.shape))


def test_predict_before_fit_fails(toy):
    with pytest.raises(ParbenchError, match="before fit"):
        SASRec().predict(toy[1])


def test_windows_cover_every_transition_once():
    indptr, items = np.array([0, 7, 9, 10]), np.array([4, 5, 6, 7, 8, 9, 3, 1, 2, 6])
    windows = sequence_windows(indptr, items, 3, overlap=1)
    pairs = [(a, b) for w in windows for a, b in zip(w[:-1], w[1:], strict=True) if a > 0]
    expected = [(items[i] + 1, items[i + 1] + 1) for lo, hi in zip(indptr[:-1], indptr[1:], strict=True)
                for i in range(lo, hi - 1)]
    assert sorted(pairs) == sorted(expected)
    assert windows.shape[1] == 3
    assert (windows[:, -1] > 0).all()  # left padding: the last slot is always an item
    cloze = sequence_windows(indptr, items, 3, overlap=0, min_items=1)
    assert sorted(cloze[cloze > 0].tolist()) == sorted((items + 1).tolist())


def test_negatives_avoid_their_window():
    windows = np.array([[0, 1, 2, 3], [4, 5, 6, 7]])
    negatives = sample_negatives(windows, 20, np.random.default_rng(0))
    assert negatives.shape == (2, 3)
    assert all(n not in w for w, row in zip(windows, negatives, strict=True) for n in row)
    assert ((negatives >= 1) & (negatives <= 20)).all()
