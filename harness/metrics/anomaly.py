"""Anomaly detection and segmentation metrics: AUROC, AUPRO, average precision, F1-max.

Image-level metrics take one score per image; pixel-level metrics take anomaly maps at
ground-truth resolution and pool all pixels of all images (the MVTec AD protocol).
Higher is better for every metric here. Definitions follow ``DESIGN.md``:

* AUROC: area under the ROC curve; a positive and a negative with the same score count
  one half (the Mann-Whitney statistic), exactly as scikit-learn's ``roc_auc_score`` and
  torchmetrics' ``binary_auroc`` (without ``thresholds``).
* Average precision: step-wise, sum over distinct thresholds of (increase in recall) times
  precision, exactly as scikit-learn's ``average_precision_score`` and torchmetrics'
  ``binary_average_precision``; no interpolation.
* F1-max: the largest F1 over all distinct thresholds, as anomalib's ``F1Max``.
* AUPRO: see :func:`aupro` (the official MVTec AD algorithm).

Every function here is exact (no binning) and sorts each input once: O(n log n) time and
about one extra copy of the scores as memory, parallel over a few threads.

Reference:
    Bergmann et al., "The MVTec Anomaly Detection Dataset", IJCV 2021 (AUPRO and its
    evaluation code).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._binary import (
    auroc_from_counts,
    average_precision_from_counts,
    binary_counts,
    f1_max_from_counts,
)
from harness.metrics._pro import aupro, pro_curve
from harness.metrics._validation import (
    RESIZE_HINT,
    as_array,
    check_both_classes,
    check_finite,
    check_ndim,
    check_same_shape,
    to_binary,
)

__all__ = [
    "aupro",
    "average_precision",
    "f1_max",
    "image_auroc",
    "pixel_auroc",
    "pixel_average_precision",
    "pixel_f1_max",
    "pro_curve",
]

IMAGE_AXES = "(n_images,)"
MAP_AXES = "(n_images, H, W)"


def _binary_validate(
    scores: Any, labels: Any, *, names: tuple[str, str], caller: str, ndim: int, axes: str
) -> tuple[np.ndarray, np.ndarray]:
    """Check scores and binary labels of the same shape; return them as numpy arrays."""
    scores = as_array(scores, names[0], caller)
    labels = as_array(labels, names[1], caller)
    check_ndim(scores, names[0], caller, ndim, axes)
    check_ndim(labels, names[1], caller, ndim, axes)
    check_same_shape(scores, labels, names, caller, hint=RESIZE_HINT if ndim == 3 else "")
    check_finite(scores, names[0], caller)
    labels = to_binary(labels, names[1], caller)
    check_both_classes(labels, names[1], caller)
    return scores, labels


def _binary_format(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return C-contiguous scores of a float dtype and C-contiguous bool labels."""
    if scores.dtype.kind in "bu" or scores.dtype == np.float16:
        scores = scores.astype(np.float32)
    elif scores.dtype.kind == "i":
        scores = scores.astype(np.float64)
    return np.ascontiguousarray(scores), np.ascontiguousarray(labels, dtype=bool)


def image_auroc(scores: Any, labels: Any, *, validate: bool = True) -> float:
    """Area under the ROC curve of image-level anomaly scores.

    Args:
        scores: float array of shape (n_images,), higher means more anomalous. Ties between
            an anomalous and a normal image count one half. NaN or inf raise.
        labels: bool or 0/1 array of shape (n_images,), True for anomalous images.
        validate: Check the inputs (shapes, finite scores, binary labels, both classes).
            Pass False only for inputs that the caller has already checked.

    Returns:
        AUROC in [0, 1], as a Python float. Equal to scikit-learn's
        ``roc_auc_score(y_true=labels, y_score=scores)`` and torchmetrics'
        ``binary_auroc`` (exact mode) up to float rounding (about 1e-12).

    Raises:
        MetricInputError: On a shape mismatch, a non-finite score, a label other than 0/1,
            or labels of one class only (AUROC is undefined then).

    Example:
        >>> image_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.75
    """
    caller = "image_auroc"
    if validate:
        scores, labels = _binary_validate(
            scores, labels, names=("scores", "labels"), caller=caller, ndim=1, axes=IMAGE_AXES
        )
    else:
        scores, labels = as_array(scores, "scores", caller), as_array(labels, "labels", caller).astype(bool)
    return auroc_from_counts(binary_counts(*_binary_format(scores, labels)))


def pixel_auroc(maps: Any, masks: Any, *, validate: bool = True) -> float:
    """Area under the ROC curve over all pixels of all images.

    Args:
        maps: float array of shape (n_images, H, W), anomaly maps at ground-truth resolution.
            Ties count one half. NaN or inf raise.
        masks: bool or 0/1 array of shape (n_images, H, W), True for anomalous pixels.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Pixel AUROC in [0, 1], as a Python float; equal to scikit-learn's ``roc_auc_score`` on the
        flattened arrays up to float rounding, at about a tenth of its time and memory. Cost:
        sorts the normal pixels once in parallel parts (O(P log P)); extra memory about one
        copy of the maps.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite score, a non-binary mask, or masks
            without any anomalous (or any normal) pixel.

    Example:
        >>> maps = np.array([[[0.1, 0.9], [0.2, 0.3]]])
        >>> masks = np.array([[[0, 1], [0, 0]]])
        >>> pixel_auroc(maps, masks)
        1.0
    """
    caller = "pixel_auroc"
    if validate:
        maps, masks = _binary_validate(maps, masks, names=("maps", "masks"), caller=caller, ndim=3, axes=MAP_AXES)
    else:
        maps, masks = as_array(maps, "maps", caller), as_array(masks, "masks", caller).astype(bool)
    return auroc_from_counts(binary_counts(*_binary_format(maps, masks)))


def average_precision(scores: Any, labels: Any, *, validate: bool = True) -> float:
    """Step-wise average precision of image-level scores (area under the PR curve).

    AP = sum over distinct thresholds t (descending) of (R(t) - R(t_prev)) * P(t), where
    R and P are recall and precision when the scores >= t are called anomalous. A
    positive and negatives with the same score enter the same threshold together.

    Args:
        scores: float array of shape (n_samples,), higher means more anomalous; NaN or inf raise.
        labels: bool or 0/1 array of shape (n_samples,), True for anomalous samples.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        AP in (0, 1], as a Python float; equal to scikit-learn's
        ``average_precision_score(y_true=labels, y_score=scores)`` and torchmetrics'
        ``binary_average_precision`` up to float rounding.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite score, a non-binary label, or
            labels of one class only.

    Example:
        >>> average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.8333333333333333
    """
    caller = "average_precision"
    if validate:
        scores, labels = _binary_validate(
            scores, labels, names=("scores", "labels"), caller=caller, ndim=1, axes="(n_samples,)"
        )
    else:
        scores, labels = as_array(scores, "scores", caller), as_array(labels, "labels", caller).astype(bool)
    return average_precision_from_counts(binary_counts(*_binary_format(scores, labels)))


def pixel_average_precision(maps: Any, masks: Any, *, validate: bool = True) -> float:
    """Step-wise average precision over all pixels of all images (pixel AP).

    Same definition as :func:`average_precision`, on the flattened maps and masks.

    Args:
        maps: float array of shape (n_images, H, W); NaN or inf raise.
        masks: bool or 0/1 array of shape (n_images, H, W), True for anomalous pixels.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Pixel AP in (0, 1], as a Python float.

    Raises:
        MetricInputError: As :func:`pixel_auroc`.

    Example:
        >>> maps = np.array([[[0.1, 0.9], [0.2, 0.3]]])
        >>> pixel_average_precision(maps, maps > 0.5)
        1.0
    """
    caller = "pixel_average_precision"
    if validate:
        maps, masks = _binary_validate(maps, masks, names=("maps", "masks"), caller=caller, ndim=3, axes=MAP_AXES)
    else:
        maps, masks = as_array(maps, "maps", caller), as_array(masks, "masks", caller).astype(bool)
    return average_precision_from_counts(binary_counts(*_binary_format(maps, masks)))


def f1_max(scores: Any, labels: Any, *, validate: bool = True) -> float:
    """Largest F1 score over every threshold of image-level scores.

    F1(t) = 2 TP / (2 TP + FP + FN) when the scores >= t are called anomalous; only distinct
    scores of positives can maximise it, so those are the thresholds tried.

    Args:
        scores: float array of shape (n_samples,); NaN or inf raise.
        labels: bool or 0/1 array of shape (n_samples,), True for anomalous samples.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        F1-max in (0, 1], as a Python float. anomalib's ``F1Max`` gives the same value up to its
        1e-10 guard in the denominator.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite score, a non-binary label, or
            labels of one class only.

    Example:
        >>> f1_max([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.8
    """
    caller = "f1_max"
    if validate:
        scores, labels = _binary_validate(
            scores, labels, names=("scores", "labels"), caller=caller, ndim=1, axes="(n_samples,)"
        )
    else:
        scores, labels = as_array(scores, "scores", caller), as_array(labels, "labels", caller).astype(bool)
    return f1_max_from_counts(binary_counts(*_binary_format(scores, labels)))


def pixel_f1_max(maps: Any, masks: Any, *, validate: bool = True) -> float:
    """Largest F1 score over every threshold, over all pixels of all images.

    Args:
        maps: float array of shape (n_images, H, W); NaN or inf raise.
        masks: bool or 0/1 array of shape (n_images, H, W), True for anomalous pixels.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Pixel F1-max in (0, 1], as a Python float.

    Raises:
        MetricInputError: As :func:`pixel_auroc`.

    Example:
        >>> maps = np.array([[[0.1, 0.9], [0.2, 0.3]]])
        >>> pixel_f1_max(maps, maps > 0.25)
        1.0
    """
    caller = "pixel_f1_max"
    if validate:
        maps, masks = _binary_validate(maps, masks, names=("maps", "masks"), caller=caller, ndim=3, axes=MAP_AXES)
    else:
        maps, masks = as_array(maps, "maps", caller), as_array(masks, "masks", caller).astype(bool)
    return f1_max_from_counts(binary_counts(*_binary_format(maps, masks)))
