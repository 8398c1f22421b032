"""Histogram gradient boosting per target (scikit-learn ``HistGradientBoostingRegressor``).

Missing modalities: native. The boosted trees learn, at every split, which side a missing value goes to, so the
features arrive with their NaN (no imputation); no presence flag is needed either, since "all missing" is itself
a value a split can use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.teaching._common import threads
from harness.api import Budget, Context
from harness.options import option
from harness.tracks.teaching.method import TeachingMethod

__all__ = ["Hgb"]


class Hgb(TeachingMethod):
    """One histogram gradient-boosting regressor per target on the concatenated modalities, NaN kept."""

    name = "hgb"
    kind = "baseline"
    paper = "Friedman, Annals of Statistics 2001; Ke et al., NeurIPS 2017 (scikit-learn HistGradientBoosting)"

    @dataclass(frozen=True)
    class Config:
        """Options of the boosting baseline (fixed: no early stopping, no search)."""

        max_iter: int = option(200, "Boosting iterations per target.", ge=1)
        learning_rate: float = option(0.05, "Shrinkage of every tree.", gt=0)
        max_leaf_nodes: int = option(15, "Leaves per tree.", ge=2)
        l2_regularization: float = option(1.0, "L2 penalty of the leaf values.", ge=0)

    def _features(self, data: Any) -> np.ndarray:
        return np.concatenate([data.features[m] for m in self.modalities], axis=1)

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit one regressor per target (seeded from the job's seed)."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        cfg = self.config
        features = self._features(train)
        with threads(ctx.n_threads):
            self.models_ = [
                HistGradientBoostingRegressor(
                    max_iter=cfg.max_iter, learning_rate=cfg.learning_rate, max_leaf_nodes=cfg.max_leaf_nodes,
                    l2_regularization=cfg.l2_regularization, early_stopping=False, random_state=ctx.seed + j,
                ).fit(features, train.targets[:, j])
                for j in range(self.n_targets)
            ]
        self.n_threads_ = ctx.n_threads

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Predictions (n, t)."""
        features = self._features(inputs)
        with threads(self.n_threads_):
            return np.stack([m.predict(features) for m in self.models_], axis=1)
