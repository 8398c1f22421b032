"""What the scikit-learn baselines share: target scaling, the thread limit, the early-fusion estimator base."""

from __future__ import annotations

import warnings
from abc import abstractmethod
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from harness.api import Budget, Context
from harness.tracks.teaching.method import TeachingMethod, early_fusion

__all__ = ["FusedRegressor", "TargetScaler", "fit_quietly", "threads"]


class TargetScaler:
    """Standardise the targets with the training part's mean and std, and map predictions back."""

    def fit(self, targets: np.ndarray) -> TargetScaler:
        """Learn the mean and std of float (n, t) targets (a constant target gets scale 1)."""
        self.mean_ = targets.mean(axis=0)
        std = targets.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, targets: np.ndarray) -> np.ndarray:
        """Standardised targets (n, t)."""
        return (targets - self.mean_) / self.scale_

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        """Predictions (n, t) back in the targets' unit."""
        return np.asarray(scaled).reshape(len(scaled), -1) * self.scale_ + self.mean_


@contextmanager
def threads(n_threads: int) -> Any:
    """Limit the BLAS / OpenMP threads of scikit-learn's estimators to ``n_threads`` inside the block."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, int(n_threads))):
        yield


def fit_quietly(model: Any, features: np.ndarray, targets: np.ndarray) -> Any:
    """``model.fit(features, targets)`` without scikit-learn's ConvergenceWarning (a fixed budget is by design)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(features, targets)


class FusedRegressor(TeachingMethod):
    """Base of the baselines that fit scikit-learn estimators on the early-fused modalities and standardised targets.

    The inputs are :func:`~harness.tracks.teaching.method.early_fusion` (training-mean imputation and presence
    flags); the targets are standardised on the training part and predictions mapped back. A subclass sets
    :attr:`per_target` (one estimator per target, seeded ``seed + j``, or one multi-output estimator) and
    implements :meth:`estimator`.
    """

    per_target: ClassVar[bool] = False

    @abstractmethod
    def estimator(self, budget: Budget, seed: int) -> Any:
        """A new unfitted scikit-learn regressor."""

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit the estimator(s) on the fused features and standardised targets (``models_``)."""
        self.scaler_ = TargetScaler().fit(train.targets)
        features, targets = early_fusion(train, self.modalities), self.scaler_.transform(train.targets)
        with threads(ctx.n_threads):
            if self.per_target:
                self.models_ = [fit_quietly(self.estimator(budget, ctx.seed + j), features, targets[:, j])
                                for j in range(self.n_targets)]
            else:
                self.models_ = [fit_quietly(self.estimator(budget, ctx.seed), features, targets)]

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Predictions (n, t) in the targets' unit."""
        features = early_fusion(inputs, self.modalities)
        with threads(1):
            parts = [np.asarray(m.predict(features)).reshape(len(features), -1) for m in self.models_]
        return self.scaler_.inverse(np.concatenate(parts, axis=1))
