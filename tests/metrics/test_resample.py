"""Resampled metrics against scikit-learn on the resample built by repeating each item its count of times."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from harness.metrics import resample as r
from harness.metrics.anomaly import f1_max
from harness.stats import bootstrap_weights


def _case(seed, n=60, n_levels=7):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, n_levels, size=n).astype(float) / n_levels  # many ties
    labels = rng.random(n) < 0.4
    labels[:2] = [True, False]
    return scores, labels.astype(int)


def _repeated(values, counts):
    return np.repeat(values, counts.astype(int))


def _sklearn_f1_max(scores, labels):
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return f1.max()


@pytest.mark.parametrize("seed", range(6))
def test_weighted_metrics_equal_sklearn_on_repeated_items(seed):
    scores, labels = _case(seed)
    weights = bootstrap_weights(len(scores), 25, seed=seed, strata=labels)
    auroc = r.weighted_auroc(scores, labels, weights)
    ap = r.weighted_average_precision(scores, labels, weights)
    f1 = r.weighted_f1_max(scores, labels, weights)
    for b, counts in enumerate(weights):
        s, y = _repeated(scores, counts), _repeated(labels, counts)
        assert auroc[b] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert ap[b] == pytest.approx(average_precision_score(y, s), abs=1e-12)
        assert f1[b] == pytest.approx(_sklearn_f1_max(s, y), abs=1e-12)
        assert f1[b] == pytest.approx(f1_max(s, y), abs=1e-12)


def test_unit_weights_give_the_plain_metric_and_a_missing_class_gives_nan():
    scores, labels = _case(0)
    ones = np.ones((1, len(scores)))
    assert r.weighted_auroc(scores, labels, ones)[0] == pytest.approx(roc_auc_score(labels, scores))
    only_negatives = np.where(labels == 1, 0.0, 1.0)[None]
    assert np.isnan(r.weighted_auroc(scores, labels, only_negatives)[0])
    assert np.isnan(r.weighted_average_precision(scores, labels, only_negatives)[0])


def test_weighted_mean_against_a_loop():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 2, size=40).astype(float)
    weights = bootstrap_weights(40, 10, seed=1)
    got = r.weighted_mean(values, weights)
    for b, counts in enumerate(weights):
        assert got[b] == pytest.approx(_repeated(values, counts).mean())
    with pytest.raises(ValueError, match=r"weights must have shape \(n_resamples, 40\)"):
        r.weighted_mean(values, np.ones((2, 39)))


def test_bootstrap_weights_keep_each_stratum_and_repeat_with_the_seed():
    strata = np.array([0] * 5 + [1] * 3 + [2] * 12)
    weights = bootstrap_weights(20, 200, seed=7, strata=strata)
    for value in (0, 1, 2):
        assert np.all(weights[:, strata == value].sum(axis=1) == (strata == value).sum())
    assert np.array_equal(weights, bootstrap_weights(20, 200, seed=7, strata=strata))
    assert not np.array_equal(weights, bootstrap_weights(20, 200, seed=8, strata=strata))
    # each item is drawn once per resample on average
    assert weights.mean() == pytest.approx(1.0) and abs(weights[:, 0].mean() - 1.0) < 0.2


@pytest.mark.parametrize("seed", range(6))
def test_weighted_agreement_equals_metrics_on_repeated_items(seed):
    """CCC against Lin's formula written out, r against scipy, RMSE and MAE against scikit-learn, ties included."""
    from scipy.stats import pearsonr
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    rng = np.random.default_rng(seed)
    n = 40
    target = rng.integers(0, 5, size=(n, 3)).astype(float) + 100.0  # ties and an offset
    pred = target * rng.uniform(0.3, 1.5) + rng.integers(0, 3, size=(n, 3)) + rng.normal(size=3)
    weights = bootstrap_weights(n, 20, seed=seed)
    out = r.weighted_agreement(pred, target, weights)
    for b, counts in enumerate(weights):
        for j in range(3):
            p, t = _repeated(pred[:, j], counts), _repeated(target[:, j], counts)
            mp, mt = p.mean(), t.mean()
            lin = 2 * np.mean((p - mp) * (t - mt)) / (p.var() + t.var() + (mp - mt) ** 2)
            assert out["ccc"][b, j] == pytest.approx(lin, abs=1e-9)
            assert out["pearson"][b, j] == pytest.approx(pearsonr(p, t).statistic, abs=1e-9)
            assert out["rmse"][b, j] == pytest.approx(np.sqrt(mean_squared_error(t, p)), abs=1e-9)
            assert out["mae"][b, j] == pytest.approx(mean_absolute_error(t, p), abs=1e-9)


def test_weighted_agreement_constant_prediction_and_empty_resample():
    target = np.array([1.0, 2.0, 3.0, 5.0])
    out = r.weighted_agreement(np.full(4, 2.0), target, [[1, 1, 1, 1], [0, 0, 0, 0]])
    assert out["ccc"][0] == 0.0 and out["pearson"][0] == 0.0
    assert np.isnan(out["ccc"][1]) and np.isnan(out["rmse"][1])
