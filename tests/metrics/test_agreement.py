"""Tests of CCC, Pearson r, RMSE and MAE against numpy, scipy, scikit-learn and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr
from torchmetrics.functional.regression import concordance_corrcoef

from harness.metrics import MetricInputError, agreement

from .conftest import N_CASES, assert_close, tied_values


def _reference_lin_ccc(pred, target):
    """Lin (1989) with population moments, written out term by term."""
    n = len(pred)
    mean_p, mean_t = sum(pred) / n, sum(target) / n
    var_p = sum((p - mean_p) ** 2 for p in pred) / n
    var_t = sum((t - mean_t) ** 2 for t in target) / n
    cov = sum((p - mean_p) * (t - mean_t) for p, t in zip(pred, target, strict=True)) / n
    return 2 * cov / (var_p + var_t + (mean_p - mean_t) ** 2)


def _random_case(case: int):
    rng = np.random.default_rng([case, 50])
    n = int(rng.integers(2, 40))
    pred = tied_values(rng, (n,)) * rng.uniform(0.5, 3) + rng.normal()
    target = tied_values(rng, (n,)) + rng.normal()
    if pred.min() == pred.max() or target.min() == target.max():
        pred[0], target[-1] = pred[0] + 1.0, target[-1] - 1.0
    return pred, target


@pytest.mark.parametrize("case", range(N_CASES))
def test_ccc_matches_lin_formula(case):
    pred, target = _random_case(case)
    assert_close(agreement.ccc(pred, target), _reference_lin_ccc(pred, target))


@pytest.mark.parametrize("case", range(N_CASES))
def test_pearson_matches_scipy(case):
    pred, target = _random_case(case)
    assert_close(agreement.pearson(pred, target), float(pearsonr(pred, target).statistic))


@pytest.mark.parametrize("case", range(N_CASES))
def test_rmse_matches_numpy(case):
    pred, target = _random_case(case)
    assert_close(agreement.rmse(pred, target), float(np.sqrt(np.mean((pred - target) ** 2))))


@pytest.mark.parametrize("case", range(N_CASES))
def test_mae_matches_sklearn(case):
    from sklearn.metrics import mean_absolute_error

    pred, target = _random_case(case)
    assert_close(agreement.mae(pred, target), float(mean_absolute_error(target, pred)))


@pytest.mark.parametrize("case", range(5))
def test_torchmetrics_ccc_uses_n_minus_1_moments(case):
    """torchmetrics = 2 c s_pt / (c s_p^2 + c s_t^2 + (m_p - m_t)^2) with c = n / (n - 1)."""
    pred, target = _random_case(case)
    n = len(pred)
    c = n / (n - 1)
    cov = np.mean((pred - pred.mean()) * (target - target.mean()))
    expected = 2 * c * cov / (c * pred.var() + c * target.var() + (pred.mean() - target.mean()) ** 2)
    got = float(concordance_corrcoef(torch.from_numpy(pred), torch.from_numpy(target)))
    assert_close(got, expected, atol=1e-9)
    if abs(pred.mean() - target.mean()) > 1e-3:
        assert abs(agreement.ccc(pred, target) - got) > 1e-9  # the two definitions differ
    shifted = pred - pred.mean() + target.mean()  # equal means: the factor c cancels
    got_equal_means = float(concordance_corrcoef(torch.from_numpy(shifted), torch.from_numpy(target)))
    assert_close(agreement.ccc(shifted, target), got_equal_means, atol=1e-9)


def test_perfect_and_constant_cases():
    x = np.array([1.0, 2.0, 3.0])
    assert agreement.ccc(x, x) == 1.0
    assert agreement.pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert agreement.ccc(np.full(3, 2.0), x) == 0.0  # one constant input: CCC is defined and 0
    assert agreement.rmse(x, x) == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: agreement.ccc([2.0, 2.0], [2.0, 2.0]), r"same constant \(2.0\)", id="ccc-constant"),
        pytest.param(lambda: agreement.pearson([1.0, 1.0], [1.0, 2.0]), r"`pred` of pearson is constant", id="r-const"),
        pytest.param(lambda: agreement.ccc([1.0], [1.0]), r"at least 2 samples; got 1", id="one-sample"),
        pytest.param(lambda: agreement.rmse([1.0, 2.0], [1.0]), r"got \(2,\) and \(1,\)", id="length"),
        pytest.param(lambda: agreement.rmse([1.0, np.nan], [1.0, 2.0]), r"got nan at index 1", id="nan"),
        pytest.param(lambda: agreement.rmse([], []), r"is empty", id="empty"),
        pytest.param(lambda: agreement.mae([1.0, np.inf], [1.0, 2.0]), r"got inf at index 1", id="mae-inf"),
        pytest.param(lambda: agreement.ccc(np.ones((2, 2)), np.ones((2, 2))), r"shape \(n_samples,\)", id="2d"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()


def test_tensors_and_validate_false():
    pred, target = _random_case(1)
    expected = agreement.ccc(pred, target)
    assert agreement.ccc(torch.from_numpy(pred), torch.from_numpy(target)) == expected
    assert agreement.ccc(pred, target, validate=False) == expected
