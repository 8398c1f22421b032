"""Random sampling, uncertainty sampling and information density, through scikit-activeml.

- :class:`RandomSampling`: ``skactiveml.pool.RandomSampling``.
- :class:`UncertaintySampling`: ``skactiveml.pool.UncertaintySampling`` with the least-confidence, margin
  (best-versus-second-best) or entropy measure (Settles, Active Learning Literature Survey, 2009).
- :class:`InformationDensity`: entropy uncertainty weighted by the mean RBF similarity of a row to the
  unlabelled rows, ``phi(x) * density(x) ** beta`` (Settles & Craven, EMNLP 2008), passed to
  ``UncertaintySampling`` as its ``utility_weight``. Departure: an RBF kernel (median width) instead of
  cosine similarity, so every weight is positive on standardised features.

Ties go to a random row among the best (scikit-activeml's ``simple_batch``, seeded from the job's seed).

License:
    scikit-activeml is BSD-3-Clause; these adapters Apache-2.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skactiveml import pool

from baselines.active_learning._skactiveml import FittedClassifier, partial_labels, rbf_median_gamma
from harness.api import Context
from harness.options import option
from harness.tracks.active import PoolState, QueryStrategy

__all__ = ["MEASURES", "InformationDensity", "RandomSampling", "UncertaintySampling"]

#: Uncertainty measures, by our name -> scikit-activeml's ``method``.
MEASURES = {"least_confidence": "least_confident", "margin": "margin_sampling", "entropy": "entropy"}



class RandomSampling(QueryStrategy):
    """Query uniformly random unlabelled rows (the passive-learning reference)."""

    name = "al-random"
    paper = "passive learning reference"

    def select(self, state: PoolState) -> np.ndarray:
        """Random rows of ``state.unlabelled``."""
        strategy = pool.RandomSampling(random_state=state.random_state())
        return strategy.query(
            state.features, partial_labels(state), candidates=state.unlabelled, batch_size=state.batch_size
        )


class UncertaintySampling(QueryStrategy):
    """Query the rows the current classifier is least sure of (least confidence, margin or entropy)."""

    name = "al-uncertainty"
    paper = "Settles 2009, Active Learning Literature Survey (uncertainty sampling)"

    @dataclass(frozen=True)
    class Config:
        """Options of uncertainty sampling."""

        measure: str = option("least_confidence", "Uncertainty measure.", choices=tuple(MEASURES))

    def _query(self, state: PoolState, *, method: str, weight: np.ndarray | None = None) -> np.ndarray:
        strategy = pool.UncertaintySampling(method=method, random_state=state.random_state())
        return strategy.query(
            state.features,
            partial_labels(state),
            FittedClassifier(state.model, state.n_classes),
            fit_clf=False,
            utility_weight=weight,
            candidates=state.unlabelled,
            batch_size=state.batch_size,
        )

    def select(self, state: PoolState) -> np.ndarray:
        """The ``batch_size`` most uncertain unlabelled rows."""
        return self._query(state, method=MEASURES[self.config.measure])


class InformationDensity(UncertaintySampling):
    """Entropy times the mean similarity to the unlabelled rows (to the power ``beta``)."""

    name = "al-information-density"
    paper = "Settles & Craven, EMNLP 2008 (information density)"

    @dataclass(frozen=True)
    class Config:
        """Options of information density."""

        beta: float = option(1.0, "Exponent of the density term.")

    def prepare(self, features: np.ndarray, ctx: Context) -> None:
        """RBF kernel of the pool (median width), once; density sums are kept per unlabelled set."""
        from sklearn.metrics.pairwise import rbf_kernel

        self.kernel_ = rbf_kernel(features, gamma=rbf_median_gamma(features))
        self.unlabelled_sum_ = self.kernel_.sum(axis=1)
        self.counted_ = np.ones(len(features), dtype=bool)

    def select(self, state: PoolState) -> np.ndarray:
        """Entropy-weighted density: drop newly labelled rows from the sums (O(n) each), then query."""
        newly = state.labelled[self.counted_[state.labelled]]
        for row in newly:
            self.unlabelled_sum_ -= self.kernel_[:, row]
        self.counted_[newly] = False
        density = self.unlabelled_sum_ / len(state.unlabelled)
        return self._query(state, method="entropy", weight=np.maximum(density, 0.0) ** self.config.beta)
