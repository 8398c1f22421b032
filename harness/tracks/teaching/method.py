"""What every method of the teaching track shares: the base class, the drop-one protocol, the missing-value rule.

:class:`TeachingMethod` implements ``fit`` and ``predict`` once for all: ``fit`` records the modalities and calls
:meth:`TeachingMethod.learn`; ``predict`` calls :meth:`TeachingMethod.predict_targets` on the test inputs and
once more per modality with that modality removed (every value NaN, as a missing modality arrives), so the
track can score each modality's contribution for every method alike. A subclass implements ``learn`` and
``predict_targets`` only.

Missing modalities (the declared strategy of every built-in method): the track standardises every feature with
the mean and standard deviation of the training part (missing values left out), so the training mean of a
feature is 0; :func:`impute` puts that 0 where a value is missing and :func:`early_fusion` appends one
presence flag per modality, so a model can tell "missing" from "average". Nothing is estimated on test items.
Methods that handle NaN natively (histogram gradient boosting) may take the NaN as it comes instead.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.tracks.teaching.track import TeachingInputs, TeachingTrain

__all__ = ["TeachingMethod", "early_fusion", "impute", "present"]


def impute(values: np.ndarray) -> np.ndarray:
    """The standardised features with every missing value set to 0, the training mean (float64, same shape)."""
    return np.where(np.isnan(values), 0.0, values)


def present(data: TeachingTrain | TeachingInputs, modalities: Sequence[str]) -> np.ndarray:
    """float64 (n, len(modalities)): 1 where an item has at least one value of the modality, else 0."""
    return np.stack([(~np.isnan(data.features[m])).any(axis=1) for m in modalities], axis=1).astype(np.float64)


def early_fusion(data: TeachingTrain | TeachingInputs, modalities: Sequence[str], *, flags: bool = True) -> np.ndarray:
    """One matrix (n, sum d_m [+ n_modalities]): the imputed modalities side by side, then the presence flags."""
    blocks = [impute(data.features[m]) for m in modalities]
    if flags:
        blocks.append(present(data, modalities))
    return np.concatenate(blocks, axis=1)


class TeachingMethod(Method):
    """Base of the teaching track's methods: ``learn`` + ``predict_targets``; drop-one predictions come free.

    Attributes set by :meth:`fit`: ``modalities`` (sorted names), ``target_names``, ``n_targets``.
    """

    track = "teaching"

    def fit(self, train: TeachingTrain, budget: Budget, ctx: Context) -> None:
        """Record the modalities and targets, then :meth:`learn`."""
        self.modalities = tuple(train.modalities)
        self.target_names = tuple(train.target_names)
        self.n_targets = len(self.target_names)
        self.learn(train, budget, ctx)

    @abstractmethod
    def learn(self, train: TeachingTrain, budget: Budget, ctx: Context) -> None:
        """Fit the model on the training part (standardised features with NaN where missing; targets (n, t))."""

    @abstractmethod
    def predict_targets(self, inputs: TeachingInputs) -> Any:
        """Predicted targets, float (n, t) in the order of ``train.target_names``; finite even where modalities miss."""

    def predict(self, inputs: TeachingInputs) -> Predictions:
        """``targets`` on the full inputs and ``drop_<modality>`` with each modality removed in turn."""
        out = {"targets": np.asarray(self.predict_targets(inputs), dtype=np.float64)}
        for modality in self.modalities:
            out[f"drop_{modality}"] = np.asarray(self.predict_targets(inputs.without(modality)), dtype=np.float64)
        return Predictions.of(**out)
