"""The mean predictor, ridge regression and support-vector regression on the early-fused modalities.

Missing modalities: :func:`harness.tracks.teaching.method.early_fusion` (each missing value set to the training
mean, 0 after the track's standardisation, and one presence flag per modality).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.teaching._common import TargetScaler, threads
from harness.api import Budget, Context
from harness.options import option
from harness.tracks.teaching.method import TeachingMethod, early_fusion

__all__ = ["MeanPredictor", "Ridge", "Svr"]


class MeanPredictor(TeachingMethod):
    """The floor: every item gets the training mean of each target (CCC 0 by construction)."""

    name = "mean-predictor"
    kind = "baseline"
    paper = "the mean predictor (floor of every regression table)"

    @dataclass(frozen=True)
    class Config:
        """No option."""

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Store the training means (t,)."""
        self.mean_ = train.targets.mean(axis=0)

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """The training means for every item, float64 (n, t)."""
        return np.tile(self.mean_, (len(inputs), 1))


class Ridge(TeachingMethod):
    """Ridge regression per target (scikit-learn ``RidgeCV``), its penalty chosen on the training part only.

    Each target's penalty minimises the efficient leave-one-out error over the log-spaced ``alphas`` on the
    training part; the test fold is never seen.
    """

    name = "ridge"
    kind = "baseline"
    paper = "Hoerl and Kennard, Technometrics 1970 (scikit-learn RidgeCV)"

    @dataclass(frozen=True)
    class Config:
        """Options of the ridge baseline."""

        alpha_min_log10: float = option(-2.0, "log10 of the smallest penalty tried.")
        alpha_max_log10: float = option(4.0, "log10 of the largest penalty tried.")
        n_alphas: int = option(13, "Penalties tried, log-spaced.", ge=1)

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit one RidgeCV with a penalty per target on the fused features and standardised targets."""
        from sklearn.linear_model import RidgeCV

        cfg = self.config
        self.scaler_ = TargetScaler().fit(train.targets)
        alphas = np.logspace(cfg.alpha_min_log10, cfg.alpha_max_log10, cfg.n_alphas)
        with threads(ctx.n_threads):
            self.model_ = RidgeCV(alphas=alphas, alpha_per_target=True).fit(
                early_fusion(train, self.modalities), self.scaler_.transform(train.targets))
        ctx.log.info("ridge penalties per target: %s", np.round(np.atleast_1d(self.model_.alpha_), 3).tolist())

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Predictions (n, t) in the targets' unit."""
        with threads(1):
            return self.scaler_.inverse(self.model_.predict(early_fusion(inputs, self.modalities)))


class Svr(TeachingMethod):
    """Support-vector regression with an RBF kernel, one per target (scikit-learn ``SVR``), fixed C and epsilon."""

    name = "svr"
    kind = "baseline"
    paper = "Drucker, Burges, Kaufman, Smola, Vapnik, NIPS 1996 (scikit-learn SVR)"

    @dataclass(frozen=True)
    class Config:
        """Options of the SVR baseline."""

        c: float = option(1.0, "Penalty C of every target's SVR (targets are standardised).", gt=0)
        epsilon: float = option(0.1, "Width of the insensitive tube, in target standard deviations.", ge=0)

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit one SVR per target on the fused features and the standardised targets."""
        from sklearn.svm import SVR

        self.scaler_ = TargetScaler().fit(train.targets)
        features, targets = early_fusion(train, self.modalities), self.scaler_.transform(train.targets)
        with threads(ctx.n_threads):
            self.models_ = [SVR(kernel="rbf", C=self.config.c, epsilon=self.config.epsilon, gamma="scale").fit(
                features, targets[:, j]) for j in range(self.n_targets)]

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Predictions (n, t) in the targets' unit."""
        features = early_fusion(inputs, self.modalities)
        with threads(1):
            return self.scaler_.inverse(np.stack([m.predict(features) for m in self.models_], axis=1))
