"""Glue between the query loop's :class:`~harness.tracks.active.PoolState` and scikit-activeml.

scikit-activeml strategies take the whole pool ``X`` with labels ``y`` where unlabelled rows hold
``nan``, candidate row numbers, and (for model-based strategies) a classifier; :func:`partial_labels`
builds that ``y`` from the revealed labels only, and :class:`FittedClassifier` hands the loop's current
classifier to a strategy without refitting it (``fit_clf=False``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skactiveml.base import SkactivemlClassifier

from harness.tracks.active import PoolState

__all__ = ["FittedClassifier", "partial_labels", "rbf_median_gamma"]


def partial_labels(state: PoolState) -> np.ndarray:
    """float64 array of shape (n_pool,): the revealed label of each labelled row, ``nan`` elsewhere."""
    y = np.full(len(state.features), np.nan)
    y[state.labelled] = state.labels
    return y


class FittedClassifier(SkactivemlClassifier):
    """A scikit-activeml classifier view of an already fitted scikit-learn classifier (never refitted).

    Args:
        model: Fitted classifier with ``predict_proba`` whose classes are 0..n_classes-1.
        n_classes: Number of classes.
    """

    def __init__(self, model: Any = None, n_classes: int = 2) -> None:
        super().__init__(classes=np.arange(n_classes), missing_label=np.nan)
        self.model = model
        self.n_classes = n_classes

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FittedClassifier:  # noqa: N803 - library API
        """Refuse: the query loop owns the classifier's training."""
        msg = "FittedClassifier wraps the query loop's classifier; call strategies with fit_clf=False."
        raise NotImplementedError(msg)

    def predict_proba(self, X: Any, **kwargs: Any) -> np.ndarray:  # noqa: N803 - library API
        """Class probabilities of the wrapped classifier, float64 array of shape (n_samples, n_classes)."""
        return self.model.predict_proba(X)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:  # noqa: N803 - library API
        """Most probable class of each row."""
        return self.model.predict(X)


def rbf_median_gamma(features: np.ndarray) -> float:
    """RBF width ``1 / median`` of the squared distances between distinct pool rows (1.0 if all coincide)."""
    from sklearn.metrics import pairwise_distances

    sq = pairwise_distances(features, metric="sqeuclidean")
    upper = sq[np.triu_indices(len(features), k=1)]
    median = float(np.median(upper)) if upper.size else 0.0
    return 1.0 / median if median > 0 else 1.0
