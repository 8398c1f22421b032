"""The teaching track's scikit-learn baselines: each against the estimator it wraps, with missing modalities."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.teaching import Hgb, LateFusion, MeanPredictor, MlpEarlyFusion, MlpSingleTask, Ridge, Svr
from harness.api import Context
from harness.cards import load_card
from harness.metrics.agreement import ccc
from harness.tracks.teaching import TeachingTrack, synth
from harness.tracks.teaching.method import early_fusion

ALL = (MeanPredictor, Ridge, Svr, Hgb, MlpEarlyFusion, MlpSingleTask, LateFusion)
#: Smaller settings that keep the tests quick (the registered defaults are what the benchmark runs).
QUICK = {Hgb: {"max_iter": 40}}


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """fold1 of seed 0 of a 600-item synthetic table, at a small neural budget."""
    root = tmp_path_factory.mktemp("teaching")
    synth.generate(root, seed=0, n_teachers=24, classes_per_teacher=25)
    track, card = TeachingTrack(), load_card("synth_teaching")
    budget = track.budget("smoke", epochs=30, hidden=64)
    train = track.load_train(root, card, "fold1", budget, seed=0)
    inputs = track.load_test_inputs(root, card, "fold1", budget, seed=0)
    truth = track.load_truth(root, card, "fold1", budget, seed=0)
    return track, budget, train, inputs, truth


def _fit(cls, split, seed=0, **config):
    _, budget, train, _, _ = split
    method = cls(cls.make_config({**QUICK.get(cls, {}), **config}))
    method.fit(train, budget, Context(seed=seed))
    return method


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.name)
def test_every_baseline_predicts_finite_targets_with_modalities_missing(cls, split):
    track, _, train, inputs, truth = split
    method = _fit(cls, split)
    predictions = method.predict(inputs)
    track.validate(predictions, truth)  # targets and every drop_<modality>: finite, right shape
    several = inputs.without("face").without("speech")
    assert np.isfinite(method.predict_targets(several)).all()
    assert all(np.isnan(f).any() for f in train.features.values())  # the table has missing values to handle


@pytest.mark.parametrize("cls", [c for c in ALL if c is not MeanPredictor], ids=lambda c: c.name)
def test_learners_beat_the_mean_predictor_and_repeat_with_the_seed(cls, split):
    _, _, _, inputs, truth = split
    method = _fit(cls, split)
    pred = method.predict_targets(inputs)
    scores = [ccc(pred[:, j], truth.targets[:, j]) for j in range(truth.targets.shape[1])]
    assert np.mean(scores) > 0.3, scores
    assert np.array_equal(pred, _fit(cls, split).predict_targets(inputs))


def test_the_mean_predictor_returns_the_training_means(split):
    _, _, train, inputs, _ = split
    pred = _fit(MeanPredictor, split).predict_targets(inputs)
    assert np.allclose(pred, train.targets.mean(axis=0)[None, :])


def test_ridge_equals_scikit_learn_ridgecv_on_the_same_matrix(split):
    from sklearn.linear_model import RidgeCV

    _, _, train, inputs, _ = split
    method = _fit(Ridge, split)
    x = early_fusion(train, train.modalities)
    mean, std = train.targets.mean(axis=0), train.targets.std(axis=0)
    reference = RidgeCV(alphas=np.logspace(-2, 4, 13), alpha_per_target=True).fit(x, (train.targets - mean) / std)
    expected = reference.predict(early_fusion(inputs, train.modalities)) * std + mean
    assert np.allclose(method.predict_targets(inputs), expected, atol=1e-10)


def test_hgb_takes_missing_values_natively(split):
    _, _, train, inputs, _ = split
    method = _fit(Hgb, split, max_iter=20)
    features = np.concatenate([inputs.features[m] for m in train.modalities], axis=1)
    assert np.isnan(features).any()
    assert np.allclose(method.predict_targets(inputs)[:, 0], method.models_[0].predict(features))


def test_late_fusion_averages_the_modalities_an_item_has(split):
    _, _, train, inputs, _ = split
    method = _fit(LateFusion, split)
    only_face = inputs
    for modality in train.modalities:
        if modality != "face":
            only_face = only_face.without(modality)
    rows = np.flatnonzero(~np.isnan(inputs.features["face"]).all(axis=1))
    from harness.tracks.teaching.method import impute

    face = method.models_["face"].predict(impute(inputs.features["face"][rows]))
    expected = method.scaler_.inverse(face)
    assert np.allclose(method.predict_targets(only_face)[rows], expected)
    nothing = only_face.without("face")
    assert np.allclose(method.predict_targets(nothing), train.targets.mean(axis=0))


def test_stacked_late_fusion_learns_its_weights_out_of_fold(split):
    track, _, _, inputs, truth = split
    method = _fit(LateFusion, split, combine="stack")
    track.validate(method.predict(inputs), truth)
    n_inputs = len(method.modalities) * method.n_targets + len(method.modalities)
    assert method.stacker_.coef_.shape == (method.n_targets, n_inputs)
    pred = method.predict_targets(inputs)
    assert np.mean([ccc(pred[:, j], truth.targets[:, j]) for j in range(pred.shape[1])]) > 0.3
