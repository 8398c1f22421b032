"""The mean predictor, ridge regression and support-vector regression on the early-fused modalities.

Missing modalities: :func:`harness.tracks.teaching.method.early_fusion` (each missing value set to the training
mean, 0 after the track's standardisation, and one presence flag per modality).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.teaching._common import FusedRegressor
from harness.api import Budget, Context
from harness.options import option
from harness.tracks.teaching.method import TeachingMethod

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


class Ridge(FusedRegressor):
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

    def estimator(self, budget: Budget, seed: int) -> Any:
        """One RidgeCV with a penalty per target."""
        from sklearn.linear_model import RidgeCV

        cfg = self.config
        return RidgeCV(alphas=np.logspace(cfg.alpha_min_log10, cfg.alpha_max_log10, cfg.n_alphas),
                       alpha_per_target=True)

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit, then log the chosen penalties."""
        super().learn(train, budget, ctx)
        ctx.log.info("ridge penalties per target: %s", np.round(np.atleast_1d(self.models_[0].alpha_), 3).tolist())


class Svr(FusedRegressor):
    """Support-vector regression with an RBF kernel, one per target (scikit-learn ``SVR``), fixed C and epsilon."""

    name = "svr"
    kind = "baseline"
    paper = "Drucker, Burges, Kaufman, Smola, Vapnik, NIPS 1996 (scikit-learn SVR)"
    per_target = True

    @dataclass(frozen=True)
    class Config:
        """Options of the SVR baseline."""

        c: float = option(1.0, "Penalty C of every target's SVR (targets are standardised).", gt=0)
        epsilon: float = option(0.1, "Width of the insensitive tube, in target standard deviations.", ge=0)

    def estimator(self, budget: Budget, seed: int) -> Any:
        """One RBF SVR (deterministic: the seed is not used)."""
        from sklearn.svm import SVR

        return SVR(kernel="rbf", C=self.config.c, epsilon=self.config.epsilon, gamma="scale")
