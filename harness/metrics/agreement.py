"""Agreement between predicted and true values of a regression: CCC, Pearson r, RMSE, MAE.

Lin's concordance correlation coefficient (CCC) is the main score of continuous emotion
and affect recognition; it is computed with population moments (divided by n, ddof=0), as
in Lin (1989) and the AVEC challenges. Higher is better for ``ccc`` and ``pearson``,
lower is better for ``rmse`` and ``mae``. All computations are in float64.

Reference:
    Lin, "A Concordance Correlation Coefficient to Evaluate Reproducibility",
    Biometrics 45(1), 1989.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim, check_same_shape

__all__ = ["ccc", "mae", "pearson", "rmse"]


def _agreement_validate(pred: Any, target: Any, caller: str, *, min_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Check two finite 1-D arrays of the same length; return them as float64 arrays."""
    pred, target = as_array(pred, "pred", caller), as_array(target, "target", caller)
    check_ndim(pred, "pred", caller, 1, "(n_samples,)")
    check_ndim(target, "target", caller, 1, "(n_samples,)")
    check_same_shape(pred, target, ("pred", "target"), caller)
    check_finite(pred, "pred", caller)
    check_finite(target, "target", caller)
    if pred.size < min_size:
        msg = f"Arguments of {caller} must hold at least {min_size} samples; got {pred.size}."
        raise MetricInputError(msg)
    return pred.astype(np.float64), target.astype(np.float64)


def _agreement_format(pred: Any, target: Any, caller: str, *, validate: bool, min_size: int) -> tuple[np.ndarray, ...]:
    """Validate (or only convert) the inputs."""
    if validate:
        return _agreement_validate(pred, target, caller, min_size=min_size)
    return as_array(pred, "pred", caller).astype(np.float64), as_array(target, "target", caller).astype(np.float64)


def _constant_error(name: str, value: float, caller: str, metric: str) -> MetricInputError:
    """Build the error raised when a correlation is undefined because an input is constant."""
    msg = (
        f"Argument `{name}` of {caller} is constant (every value is {value}); {metric} is undefined for a "
        "constant input. Report the metric as missing for this run, or use rmse."
    )
    return MetricInputError(msg)


def ccc(pred: Any, target: Any, *, validate: bool = True) -> float:
    """Lin's concordance correlation coefficient with population moments.

    CCC = 2 s_pt / (s_p^2 + s_t^2 + (m_p - m_t)^2), where m are means, s^2 variances and
    s_pt the covariance, all divided by n (ddof=0).

    torchmetrics' ``concordance_corrcoef`` divides the variances and the covariance by
    n - 1 but not the squared mean difference; with c = n / (n - 1) it returns
    2 c s_pt / (c s_p^2 + c s_t^2 + (m_p - m_t)^2), which differs from this value unless
    the means are equal, and tends to it as n grows.

    Args:
        pred: float array of shape (n_samples,); NaN or inf raise.
        target: float array of shape (n_samples,); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        CCC in [-1, 1], as a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value, fewer than 2 samples, or
            when both inputs are the same constant (0 / 0). One constant input is fine: the
            CCC is 0 then.

    Example:
        >>> round(ccc([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]), 6)
        0.857143
    """
    caller = "ccc"
    pred, target = _agreement_format(pred, target, caller, validate=validate, min_size=2)
    mean_pred, mean_target = pred.mean(), target.mean()
    covariance = np.mean((pred - mean_pred) * (target - mean_target))
    denominator = pred.var() + target.var() + (mean_pred - mean_target) ** 2
    if denominator == 0:
        msg = (
            f"Arguments `pred` and `target` of {caller} are the same constant ({pred[0]}); the concordance "
            "correlation coefficient is 0 / 0 then. Report the metric as missing for this run."
        )
        raise MetricInputError(msg)
    return float(2.0 * covariance / denominator)


def pearson(pred: Any, target: Any, *, validate: bool = True) -> float:
    """Pearson correlation coefficient between predictions and targets.

    Args:
        pred: float array of shape (n_samples,); NaN or inf raise.
        target: float array of shape (n_samples,); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        r in [-1, 1], as a Python float; equal to ``scipy.stats.pearsonr(pred, target)[0]``.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value, fewer than 2 samples, or a
            constant input (r is undefined then).

    Example:
        >>> round(pearson([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]), 6)
        0.981981
    """
    caller = "pearson"
    pred, target = _agreement_format(pred, target, caller, validate=validate, min_size=2)
    centred_pred, centred_target = pred - pred.mean(), target - target.mean()
    norm_pred, norm_target = np.linalg.norm(centred_pred), np.linalg.norm(centred_target)
    for name, values, norm in (("pred", pred, norm_pred), ("target", target, norm_target)):
        if norm == 0:
            raise _constant_error(name, values[0], caller, "Pearson's r")
    r = np.dot(centred_pred / norm_pred, centred_target / norm_target)
    return float(np.clip(r, -1.0, 1.0))


def rmse(pred: Any, target: Any, *, validate: bool = True) -> float:
    """Root mean squared error between predictions and targets.

    Args:
        pred: float array of shape (n_samples,); NaN or inf raise.
        target: float array of shape (n_samples,); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        RMSE >= 0 in the unit of the targets, as a Python float; lower is better.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value or an empty input.

    Example:
        >>> rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
        1.1547005383792515
    """
    caller = "rmse"
    pred, target = _agreement_format(pred, target, caller, validate=validate, min_size=1)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def mae(pred: Any, target: Any, *, validate: bool = True) -> float:
    """Mean absolute error between predictions and targets.

    Args:
        pred: float array of shape (n_samples,); NaN or inf raise.
        target: float array of shape (n_samples,); NaN or inf raise.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        MAE >= 0 in the unit of the targets, as a Python float; lower is better.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite value or an empty input.

    Example:
        >>> mae([1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
        0.6666666666666666
    """
    caller = "mae"
    pred, target = _agreement_format(pred, target, caller, validate=validate, min_size=1)
    return float(np.mean(np.abs(pred - target)))
