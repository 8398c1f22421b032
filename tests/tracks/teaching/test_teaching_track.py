"""The teaching track: grouped folds, training-only standardisation, metrics against scipy / scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr
from sklearn.metrics import mean_absolute_error, mean_squared_error

from harness.api import Predictions
from harness.cards import load_card
from harness.errors import InvalidPredictionError
from harness.tracks.teaching import FOLDS, TeachingTrack, load_described, standardise, synth
from harness.tracks.teaching.track import TeachingInputs, TeachingTruth

CARD = load_card("synth_teaching")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("teaching")
    synth.generate(root, seed=0, **synth.PRESETS["tiny"])
    return root


def _lin(p, t):
    mp, mt = p.mean(), t.mean()
    return 2 * np.mean((p - mp) * (t - mt)) / (p.var() + t.var() + (mp - mt) ** 2)


def test_folds_partition_the_items_by_whole_teachers(tiny):
    from harness.tracks.teaching import grouped_folds

    track, budget = TeachingTrack(), TeachingTrack().budget("smoke")
    table = load_described(tiny)
    fold = grouped_folds(len(table), table.groups, n_folds=len(FOLDS), seed=1)
    sizes = []
    for k, name in enumerate(FOLDS):
        train = track.load_train(tiny, CARD, name, budget, seed=1)
        inputs = track.load_test_inputs(tiny, CARD, name, budget, seed=1)
        truth = track.load_truth(tiny, CARD, name, budget, seed=1)
        test_groups = set(table.groups[fold == k])
        assert test_groups and set(train.groups).isdisjoint(test_groups)
        assert np.array_equal(truth.targets, table.targets[fold == k])
        assert np.array_equal(train.targets, table.targets[fold != k])
        assert len(train) + len(inputs) == len(table) and len(truth) == len(inputs)
        assert not hasattr(inputs, "targets") and not hasattr(inputs, "groups")
        assert truth.target_names == synth.TARGETS and truth.modalities == tuple(sorted(synth.MODALITIES))
        sizes.append(len(inputs))
    assert sum(sizes) == len(table)


def test_the_same_seed_gives_every_method_the_same_folds_and_another_seed_others(tiny):
    track, budget = TeachingTrack(), TeachingTrack().budget("smoke")
    first = track.load_truth(tiny, CARD, "fold2", budget, seed=0).targets
    again = track.load_truth(tiny, CARD, "fold2", budget, seed=0).targets
    other = track.load_truth(tiny, CARD, "fold2", budget, seed=3).targets
    assert np.array_equal(first, again)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_features_are_standardised_with_the_training_part_only(tiny):
    track, budget = TeachingTrack(), TeachingTrack().budget("smoke")
    train = track.load_train(tiny, CARD, "fold1", budget, seed=0)
    inputs = track.load_test_inputs(tiny, CARD, "fold1", budget, seed=0)
    for modality in train.modalities:
        values = train.features[modality]
        assert np.allclose(np.nanmean(values, axis=0), 0.0, atol=1e-9)
        assert np.allclose(np.nanstd(values, axis=0), 1.0, atol=1e-9)
        assert np.isnan(inputs.features[modality]).any() or np.isnan(values).any()
    test_means = np.concatenate([np.nanmean(inputs.features[m], axis=0) for m in train.modalities])
    assert np.abs(test_means).max() > 1e-3  # the test fold is not standardised on itself


def test_standardise_handles_constant_and_missing_columns():
    train = np.array([[1.0, 5.0, np.nan], [3.0, 5.0, np.nan], [np.nan, 5.0, np.nan]])
    other = np.array([[2.0, 7.0, 4.0]])
    a, b = standardise(train, other)
    assert np.allclose(a[:2, 0], [-1.0, 1.0]) and np.isnan(a[2, 0])
    assert np.allclose(a[:, 1], 0.0) and b[0, 1] == pytest.approx(2.0)
    assert b[0, 0] == pytest.approx(0.0) and b[0, 2] == pytest.approx(4.0)


def _case(seed, n=50, t=3, modalities=("a", "b")):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 6, size=(n, t)).astype(float)  # ties
    pred = true * rng.uniform(0.2, 1.2) + rng.integers(0, 3, size=(n, t))
    arrays = {"targets": pred}
    for k, m in enumerate(modalities):
        arrays[f"drop_{m}"] = pred + (k + 1) * rng.normal(size=pred.shape)
    truth = TeachingTruth(true, tuple(f"y{j}" for j in range(t)), tuple(modalities))
    return Predictions.of(**arrays), truth


@pytest.mark.parametrize("seed", range(5))
def test_metrics_match_an_independent_reference(seed):
    track = TeachingTrack()
    predictions, truth = _case(seed)
    metrics = track.evaluate(predictions, truth)
    pred, true = predictions["targets"], truth.targets
    cccs = [_lin(pred[:, j], true[:, j]) for j in range(3)]
    assert metrics["ccc_mean"] == pytest.approx(np.mean(cccs), abs=1e-12)
    assert metrics["ccc_min"] == pytest.approx(np.min(cccs), abs=1e-12)
    assert metrics["pearson_mean"] == pytest.approx(np.mean([pearsonr(pred[:, j], true[:, j]).statistic
                                                             for j in range(3)]), abs=1e-12)
    assert metrics["rmse_mean"] == pytest.approx(np.mean([np.sqrt(mean_squared_error(true[:, j], pred[:, j]))
                                                          for j in range(3)]), abs=1e-12)
    assert metrics["mae_mean"] == pytest.approx(np.mean([mean_absolute_error(true[:, j], pred[:, j])
                                                         for j in range(3)]), abs=1e-12)
    drops = [np.mean([_lin(predictions[f"drop_{m}"][:, j], true[:, j]) for j in range(3)]) for m in ("a", "b")]
    assert metrics["ccc_drop_mean"] == pytest.approx(np.mean(drops), abs=1e-12)
    diagnostics = track.diagnostics(predictions, truth)
    assert diagnostics["ccc.y1"][0] == pytest.approx(cccs[1], abs=1e-12)
    assert diagnostics["contribution.b"][0] == pytest.approx(np.mean(cccs) - drops[1], abs=1e-12)
    items = track.item_results(predictions, truth)
    resampled = track.resample_metrics(items, np.ones((2, len(true))))
    for name, values in resampled.items():
        assert values == pytest.approx([metrics[name]] * 2, abs=1e-9), name


def test_a_constant_prediction_scores_zero_ccc_and_zero_r():
    track = TeachingTrack()
    true = np.arange(12, dtype=float).reshape(6, 2)
    constant = np.full_like(true, 3.0)
    metrics = track.evaluate(Predictions.of(targets=constant, drop_a=constant), TeachingTruth(true, ("p", "q"), ("a",)))
    assert metrics["ccc_mean"] == 0.0 and metrics["pearson_mean"] == 0.0 and metrics["ccc_drop_mean"] == 0.0


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        pytest.param({"targets": np.zeros((4, 2))}, r"lack array 'drop_a'", id="no-drop"),
        pytest.param({"targets": np.zeros((4, 3)), "drop_a": np.zeros((4, 2))}, r"shape \(4, 2\)", id="shape"),
        pytest.param({"targets": np.full((4, 2), np.nan), "drop_a": np.zeros((4, 2))}, "finite", id="nan"),
        pytest.param({"targets": np.zeros((4, 2)), "drop_a": np.zeros((4, 2)), "drop_z": np.zeros((4, 2))},
                     "does not know", id="extra"),
    ],
)
def test_validate_rejects_bad_predictions(arrays, match):
    truth = TeachingTruth(np.arange(8.0).reshape(4, 2), ("p", "q"), ("a",))
    with pytest.raises(InvalidPredictionError, match=match):
        TeachingTrack().validate(Predictions.of(**arrays), truth)


def test_inputs_without_a_modality_and_take():
    inputs = TeachingInputs({"a": np.ones((3, 2)), "b": np.arange(3.0)[:, None]})
    dropped = inputs.without("a")
    assert np.isnan(dropped.features["a"]).all() and np.array_equal(dropped.features["b"], inputs.features["b"])
    assert inputs.take(np.array([2, 0])).features["b"].ravel().tolist() == [2.0, 0.0]
    with pytest.raises(KeyError, match="no modality 'c'"):
        inputs.without("c")


def test_an_unknown_subset_names_the_folds(tiny):
    from harness.data.errors import DataLayoutError

    track = TeachingTrack()
    with pytest.raises(DataLayoutError, match="fold1, fold2"):
        track.load_train(tiny, CARD, "all", track.budget("smoke"))
