"""Metrics of the prompt track from raw logits: few-shot accuracy, base and novel accuracy, their harmonic mean.

Every job predicts, for each test image, two score rows over all classes: ``logits`` from the model trained on the
few-shot set of every class, and ``b2n_logits`` from the model trained on the base classes only (the first
``n_base`` labels). Following CoCoOp's protocol, base accuracy scores the test images of base classes among the
base classes only, novel accuracy the test images of novel classes among the novel classes only; the harmonic mean
is :func:`harness.metrics.curves.harmonic_mean`. Ties in a row of scores go to the lowest class index (numpy's
``argmax``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from harness.metrics.curves import harmonic_mean

__all__ = ["METRICS", "accuracy", "base_novel_items", "item_metrics", "prompt_metrics"]

#: metric -> higher is better; the first is the leaderboard's main metric.
METRICS = {"harmonic_mean": True, "accuracy": True, "base_accuracy": True, "novel_accuracy": True}


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of float scores (n_images, n_classes) against int labels (n_images,); ties: lowest index.

    Raises:
        ValueError: No image, or the shapes disagree.

    Example:
        >>> accuracy(np.array([[0.1, 0.9], [0.5, 0.5]]), np.array([1, 1]))
        0.5
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels) or not len(labels):
        msg = f"accuracy needs scores (n_images, n_classes) and labels (n_images,), n_images > 0; got {logits.shape} "
        msg += f"and {labels.shape}."
        raise ValueError(msg)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def base_novel_items(logits: np.ndarray, b2n_logits: np.ndarray, labels: np.ndarray,
                     n_base: int) -> dict[str, np.ndarray]:
    """Per test image: right under the few-shot model, right under the base-to-novel model within its group, group.

    Returns:
        ``correct`` (float64 (n_images,), 1 when the few-shot model's top class is the label), ``b2n_correct``
        (1 when the base model's top class among the image's own group, base or novel, is the label) and
        ``is_base`` (1 for an image of a base class).
    """
    labels = np.asarray(labels)
    is_base = labels < n_base
    base_pred = np.argmax(b2n_logits[:, :n_base], axis=1)
    novel_pred = np.argmax(b2n_logits[:, n_base:], axis=1) + n_base
    b2n_pred = np.where(is_base, base_pred, novel_pred)
    return {"correct": (np.argmax(logits, axis=1) == labels).astype(np.float64),
            "b2n_correct": (b2n_pred == labels).astype(np.float64), "is_base": is_base.astype(np.float64)}


def item_metrics(items: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric for weighted resamples of the images (weights float (n_resamples, n_images)).

    A resample without a base (or novel) image has base (or novel) accuracy 0.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    is_base = items["is_base"]
    total = weights.sum(axis=1)
    n_base, n_novel = weights @ is_base, weights @ (1 - is_base)
    base = np.divide(weights @ (items["b2n_correct"] * is_base), n_base, out=np.zeros_like(total), where=n_base > 0)
    novel = np.divide(weights @ (items["b2n_correct"] * (1 - is_base)), n_novel, out=np.zeros_like(total),
                      where=n_novel > 0)
    denominator = base + novel
    hm = np.divide(2 * base * novel, denominator, out=np.zeros_like(total), where=denominator > 0)
    return {"harmonic_mean": hm, "accuracy": (weights @ items["correct"]) / total, "base_accuracy": base,
            "novel_accuracy": novel}


def prompt_metrics(logits: np.ndarray, b2n_logits: np.ndarray, labels: np.ndarray, n_base: int) -> dict[str, float]:
    """Every metric of one job (see the module docstring).

    Raises:
        ValueError: The test set lacks base or novel images (the harmonic mean is then undefined).
    """
    labels = np.asarray(labels)
    if not (labels < n_base).any() or not (labels >= n_base).any():
        msg = (f"base-to-novel metrics need test images of base (< {n_base}) and novel (>= {n_base}) classes; got "
               f"labels {sorted(set(labels.tolist()))[:10]}.")
        raise ValueError(msg)
    base_rows, novel_rows = labels < n_base, labels >= n_base
    base = accuracy(b2n_logits[base_rows, :n_base], labels[base_rows])
    novel = accuracy(b2n_logits[novel_rows, n_base:], labels[novel_rows] - n_base)
    return {"harmonic_mean": harmonic_mean(base, novel), "accuracy": accuracy(logits, labels),
            "base_accuracy": base, "novel_accuracy": novel}
