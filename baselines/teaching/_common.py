"""What the scikit-learn baselines share: target scaling and the thread limit."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["TargetScaler", "threads"]


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
