"""Core-set (k-center greedy) and QUIRE, through scikit-activeml.

- :class:`CoreSet`: ``skactiveml.pool.CoreSet``, the greedy k-center selection of Sener & Savarese
  (ICLR 2018) on the standardised features (Euclidean): each query is the unlabelled row farthest from
  its nearest labelled (or already chosen) row.
- :class:`Quire`: ``skactiveml.pool.Quire`` (Huang, Jin & Zhou, NeurIPS 2010), RBF kernel of median
  width, precomputed once per pool and indexed per query (``metric="precomputed"``). Departure: QUIRE
  costs O(u^3) per query in the unlabelled count u; to keep it practical each query sees a random
  subset of ``max_unlabelled`` unlabelled rows (all of them when fewer), drawn from the job's seed,
  plus every labelled row, and picks among that subset.

License:
    scikit-activeml is BSD-3-Clause; these adapters Apache-2.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skactiveml import pool

from baselines.active_learning._skactiveml import partial_labels, rbf_median_gamma
from harness.api import Context
from harness.options import option
from harness.tracks.active import PoolState, QueryStrategy

__all__ = ["CoreSet", "Quire"]



class CoreSet(QueryStrategy):
    """Greedy k-center: query the unlabelled row farthest from the labelled set."""

    name = "al-coreset"
    paper = "Sener & Savarese, ICLR 2018 (core-set, k-center greedy)"

    def select(self, state: PoolState) -> np.ndarray:
        """Farthest-first rows of ``state.unlabelled``."""
        strategy = pool.CoreSet(random_state=state.random_state())
        return strategy.query(
            state.features, partial_labels(state), candidates=state.unlabelled, batch_size=state.batch_size
        )


class Quire(QueryStrategy):
    """QUIRE: informative and representative rows by the min-max view of kernel least squares."""

    name = "al-quire"
    paper = "Huang, Jin & Zhou, NeurIPS 2010 (QUIRE)"

    @dataclass(frozen=True)
    class Config:
        """Options of QUIRE."""

        lmbda: float = option(1.0, "Regularisation of the kernel least squares (> 0).", gt=0)
        max_unlabelled: int = option(50, "Unlabelled rows one query sees (random subset).", ge=1)

    def prepare(self, features: np.ndarray, ctx: Context) -> None:
        """The pool's RBF kernel (median width), computed once."""
        from sklearn.metrics.pairwise import rbf_kernel

        self.kernel_ = rbf_kernel(features, gamma=rbf_median_gamma(features))

    def select(self, state: PoolState) -> np.ndarray:
        """QUIRE on the labelled rows plus a random subset of the unlabelled rows."""
        unlabelled = state.unlabelled
        if len(unlabelled) > self.config.max_unlabelled:
            unlabelled = np.sort(state.rng.choice(unlabelled, size=self.config.max_unlabelled, replace=False))
        rows = np.concatenate([state.labelled, unlabelled])
        y = partial_labels(state)[rows]
        strategy = pool.Quire(
            classes=np.arange(state.n_classes), lmbda=self.config.lmbda, metric="precomputed",
            random_state=state.random_state(),
        )
        chosen = strategy.query(self.kernel_[np.ix_(rows, rows)], y, batch_size=state.batch_size)
        return rows[np.asarray(chosen, dtype=np.int64)]
