"""Each active-learning baseline's choice against an obvious slow version on tiny data."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skactiveml")

from sklearn.linear_model import LogisticRegression  # noqa: E402

from baselines.active_learning import CoreSet, InformationDensity, Quire, RandomSampling, UncertaintySampling  # noqa: E402
from harness.api import Context  # noqa: E402
from harness.tracks.active import PoolState  # noqa: E402

SEED = 0
N_POOL, N_CLASSES = 30, 3


def _state(batch_size=1, seed=SEED):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(N_POOL, 2)) + np.repeat(np.eye(3, 2) * 2, 10, axis=0)
    truth = np.repeat(np.arange(N_CLASSES), 10)
    labelled = np.array([0, 10, 20, 5], dtype=np.int64)
    model = LogisticRegression().fit(features[labelled], truth[labelled])
    unlabelled = np.setdiff1d(np.arange(N_POOL), labelled)
    return PoolState(features, labelled, truth[labelled], unlabelled, model.predict_proba(features), model,
                     N_CLASSES, batch_size, 0, np.random.default_rng(seed))


def _uncertainty(measure):
    return UncertaintySampling(UncertaintySampling.make_config({"measure": measure}))


def _reference_scores(proba, measure):
    """Higher = more uncertain, written out per row."""
    scores = []
    for p in proba:
        top = sorted(p, reverse=True)
        if measure == "least_confidence":
            scores.append(1 - top[0])
        elif measure == "margin":
            scores.append(-(top[0] - top[1]))
        else:
            scores.append(-sum(v * np.log(v) for v in p if v > 0))
    return np.array(scores)


@pytest.mark.parametrize("measure", ["least_confidence", "margin", "entropy"])
def test_uncertainty_picks_the_most_uncertain_rows(measure):
    state = _state(batch_size=3)
    got = _uncertainty(measure).select(state)
    scores = _reference_scores(state.proba[state.unlabelled], measure)
    want = state.unlabelled[np.argsort(-scores, kind="stable")[:3]]
    assert sorted(got.tolist()) == sorted(want.tolist())


def test_margin_is_argmin_of_top1_minus_top2():
    state = _state()
    top2 = np.sort(state.proba[state.unlabelled], axis=1)[:, -2:]
    assert _uncertainty("margin").select(state).tolist() == [state.unlabelled[np.argmin(top2[:, 1] - top2[:, 0])]]


def test_unknown_measure_is_rejected():
    with pytest.raises(ValueError, match="must be one of least_confidence, margin, entropy; got 'variance'"):
        _uncertainty("variance").select(_state())


def test_information_density_is_entropy_times_mean_similarity_to_unlabelled():
    state = _state(batch_size=2)
    method = InformationDensity()
    method.prepare(state.features, Context(seed=SEED))
    got = method.select(state)
    sq = ((state.features[:, None] - state.features[None]) ** 2).sum(-1)
    gamma = 1 / np.median(sq[np.triu_indices(N_POOL, 1)])
    density = np.array([np.mean([np.exp(-gamma * sq[i, u]) for u in state.unlabelled]) for i in state.unlabelled])
    scores = _reference_scores(state.proba[state.unlabelled], "entropy") * density
    assert sorted(got.tolist()) == sorted(state.unlabelled[np.argsort(-scores)[:2]].tolist())


def test_coreset_is_k_center_greedy():
    state = _state(batch_size=4)
    got = CoreSet().select(state)
    centers, want = list(state.labelled), []
    for _ in range(4):  # brute force: farthest row from its nearest center, centers grow
        dist = [min(np.linalg.norm(state.features[i] - state.features[c]) for c in centers) for i in state.unlabelled]
        for i, row in enumerate(state.unlabelled):
            if row in want:
                dist[i] = -1
        pick = int(state.unlabelled[int(np.argmax(dist))])
        want.append(pick)
        centers.append(pick)
    assert got.tolist() == want


def test_random_is_seeded_distinct_and_unlabelled():
    first = RandomSampling().select(_state(batch_size=5))
    again = RandomSampling().select(_state(batch_size=5))
    other = RandomSampling().select(_state(batch_size=5, seed=1))
    assert first.tolist() == again.tolist() != other.tolist()
    assert len(set(first.tolist())) == 5 and not set(first.tolist()) & {0, 5, 10, 20}


def test_quire_on_the_whole_pool_equals_scikit_activeml_quire():
    from skactiveml.pool import Quire as SkQuire

    state = _state()
    method = Quire(Quire.make_config({"max_unlabelled": N_POOL}))
    method.prepare(state.features, Context(seed=SEED))
    got = method.select(state)
    y = np.full(N_POOL, np.nan)
    y[state.labelled] = state.labels
    rows = np.concatenate([state.labelled, state.unlabelled])
    _, utilities = SkQuire(classes=np.arange(N_CLASSES), metric="precomputed").query(
        method.kernel_[np.ix_(rows, rows)], y[rows], return_utilities=True
    )
    assert got.tolist() == [rows[int(np.nanargmax(utilities[0]))]]
    small = Quire(Quire.make_config({"max_unlabelled": 5}))
    small.prepare(state.features, Context(seed=SEED))
    assert small.select(state)[0] in state.unlabelled
