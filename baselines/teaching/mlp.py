"""Multi-layer perceptrons (scikit-learn ``MLPRegressor``): early fusion, single-task, late fusion.

Every MLP trains under the budget's recipe: two hidden layers of ``hidden`` and ``hidden // 2`` ReLU units, Adam
at ``learning_rate`` for ``epochs`` passes in mini-batches of ``batch_size``, L2 penalty ``weight_decay``
(``alpha``), no early stopping; the targets are standardised on the training part. Missing modalities: early
fusion and single-task take :func:`harness.tracks.teaching.method.early_fusion` (training-mean imputation and
presence flags); late fusion trains each modality's MLP on the items that have the modality and averages the
predictions of the modalities an item has (``combine="mean"``) or combines them by a ridge regression learnt on
out-of-fold predictions of the training part, a missing modality's prediction set to the training mean and
flagged (``combine="stack"``, stacked generalisation: Wolpert, Neural Networks 1992).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.teaching._common import FusedRegressor, TargetScaler, fit_quietly, threads
from harness.api import Budget, Context
from harness.options import option
from harness.tracks.teaching.method import TeachingMethod, impute, present

__all__ = ["LateFusion", "MlpEarlyFusion", "MlpSingleTask", "budget_mlp"]


def budget_mlp(budget: Any, seed: int) -> Any:
    """An unfitted ``MLPRegressor`` with the budget's recipe (see the module docstring)."""
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(
        hidden_layer_sizes=(budget.hidden, max(1, budget.hidden // 2)), activation="relu", solver="adam",
        alpha=budget.weight_decay, batch_size=budget.batch_size, learning_rate_init=budget.learning_rate,
        max_iter=budget.epochs, shuffle=True, random_state=seed, early_stopping=False,
        n_iter_no_change=budget.epochs + 1, tol=0.0,
    )


class MlpEarlyFusion(FusedRegressor):
    """One multi-output MLP on the concatenated modalities and presence flags (early fusion, multi-task)."""

    name = "mlp-early"
    kind = "baseline"
    paper = "early-fusion multi-output MLP (scikit-learn MLPRegressor)"

    @dataclass(frozen=True)
    class Config:
        """No option: the budget fixes the recipe."""

    def estimator(self, budget: Budget, seed: int) -> Any:
        """The budget's MLP."""
        return budget_mlp(budget, seed)


class MlpSingleTask(MlpEarlyFusion):
    """One MLP per target on the concatenated modalities and presence flags (early fusion, no shared layers)."""

    name = "mlp-single-task"
    paper = "single-task MLPs, one per target (scikit-learn MLPRegressor)"
    per_target = True


class LateFusion(TeachingMethod):
    """One multi-output MLP per modality; an item's prediction is the mean over the modalities it has."""

    name = "late-fusion"
    kind = "baseline"
    paper = "late fusion of per-modality multi-output MLPs (scikit-learn MLPRegressor)"

    @dataclass(frozen=True)
    class Config:
        """Options of late fusion."""

        min_items: int = option(10, "A modality present for fewer training items gets no model.", ge=2)
        combine: str = option(
            "mean", "How the modalities' predictions combine: their mean over the modalities an item has, or a "
            "ridge stacked on out-of-fold predictions (GroupKFold(3) on the groups).", choices=("mean", "stack"))

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fit each modality's MLP on the training items that have it."""
        self.scaler_ = TargetScaler().fit(train.targets)
        targets = self.scaler_.transform(train.targets)
        has = present(train, self.modalities).astype(bool)
        self.models_ = {}
        with threads(ctx.n_threads):
            for k, modality in enumerate(self.modalities):
                rows = np.flatnonzero(has[:, k])
                if len(rows) < self.config.min_items:
                    ctx.log.warning("late fusion: modality %r has %d training items; no model", modality, len(rows))
                    continue
                features = impute(train.features[modality][rows])
                self.models_[modality] = fit_quietly(budget_mlp(budget, ctx.seed + k), features, targets[rows])
            if self.config.combine == "stack":
                self.stacker_ = self._stack(train, targets, has, budget, ctx)

    def _per_modality(self, data: Any, models: dict, has: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Scaled predictions of each modality's model (n, m * t) on ``rows``, 0 (the training mean) where absent."""
        out = np.zeros((len(rows), len(self.modalities), self.n_targets))
        for k, modality in enumerate(self.modalities):
            where = np.flatnonzero(has[rows, k])
            if modality in models and len(where):
                pred = models[modality].predict(impute(data.features[modality][rows[where]]))
                out[where, k] = np.asarray(pred).reshape(len(where), -1)
        return out.reshape(len(rows), -1)

    def _stack(self, train: Any, targets: np.ndarray, has: np.ndarray, budget: Budget, ctx: Context) -> Any:
        """A ridge on out-of-fold per-modality predictions and the presence flags (scaled targets)."""
        from sklearn.linear_model import RidgeCV
        from sklearn.model_selection import GroupKFold, KFold

        n = len(train)
        if train.groups is not None and len(np.unique(train.groups)) >= 3:
            splits = GroupKFold(n_splits=3).split(np.zeros(n), groups=train.groups)
        else:
            splits = KFold(n_splits=3, shuffle=True, random_state=ctx.seed).split(np.zeros(n))
        oof = np.zeros((n, len(self.modalities) * self.n_targets))
        for fit_rows, held in splits:
            models = {}
            for k, modality in enumerate(self.modalities):
                rows = fit_rows[has[fit_rows, k]]
                if modality in self.models_ and len(rows) >= self.config.min_items:
                    features = impute(train.features[modality][rows])
                    models[modality] = fit_quietly(budget_mlp(budget, ctx.seed + k), features, targets[rows])
            oof[held] = self._per_modality(train, models, has, held)
        return RidgeCV(alphas=np.logspace(-2, 4, 13), alpha_per_target=True).fit(np.hstack([oof, has]), targets)

    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Mean (or the stacked ridge) of the item's present modalities' predictions (n, t); none: the training mean."""
        if self.config.combine == "stack":
            has = present(inputs, self.modalities)
            with threads(1):
                per = self._per_modality(inputs, self.models_, has.astype(bool), np.arange(len(inputs)))
                stacked = self.stacker_.predict(np.hstack([per, has]))
            return self.scaler_.inverse(stacked)
        total = np.zeros((len(inputs), self.n_targets))
        count = np.zeros((len(inputs), 1))
        has = present(inputs, self.modalities).astype(bool)
        with threads(1):
            for k, modality in enumerate(self.modalities):
                rows = np.flatnonzero(has[:, k])
                if modality not in self.models_ or not len(rows):
                    continue
                pred = self.models_[modality].predict(impute(inputs.features[modality][rows]))
                total[rows] += np.asarray(pred).reshape(len(rows), -1)
                count[rows] += 1
        scaled = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        return self.scaler_.inverse(scaled)
