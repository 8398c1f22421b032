"""Adapter of the triple-measure query strategy to the ``active`` track's query loop.

Reference:
    Du, Wang, Zhang, Zhang, Liu, Shen, Tao. "Exploring Representativeness and Informativeness for Active
    Learning." IEEE Transactions on Cybernetics 47(1), 2017. arXiv:1904.06685.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.api import Context
from harness.options import option
from harness.tracks.active import PoolState, QueryStrategy
from methods.triple_measures.model import TripleMeasureState, median_gamma, rbf_kernel

__all__ = ["TripleMeasures"]



class TripleMeasures(QueryStrategy):
    """Query the row that best fuses BvSB uncertainty with the probability-weighted MMD triple measures."""

    name = "triple-measures"
    kind = "method"
    paper = "arXiv:1904.06685 (Du et al., IEEE TCYB 2017)"

    @dataclass(frozen=True)
    class Config:
        """Options of the triple-measure strategy."""

        beta: float = option(1.0, "Weight of representativeness against uncertainty.", ge=0)
        gamma: float = option(0.0, "RBF width; 0 = median heuristic on the pool.", ge=0)
        use_uncertainty: bool = option(True, "Fuse with the BvSB uncertainty.")
        probability_weighting: bool = option(True, "Weight the kernel by the rows' (estimated) label vectors.")

    def prepare(self, features: np.ndarray, ctx: Context) -> None:
        """Compute the pool's RBF kernel once; the label-side sums start empty."""
        gamma = self.config.gamma or median_gamma(features)
        self.kernel_ = rbf_kernel(features, gamma=gamma)
        self.state_: TripleMeasureState | None = None

    def select(self, state: PoolState) -> np.ndarray:
        """Reveal the rows labelled since the last round to the running sums, then choose a batch."""
        if self.state_ is None:
            self.state_ = TripleMeasureState(
                self.kernel_, state.n_classes, weighted=self.config.probability_weighting
            )
        known = len(self.state_.labelled)
        self.state_.reveal(state.labelled[known:], state.labels[known:])
        return self.state_.select(
            state.proba, state.unlabelled, state.batch_size, beta=self.config.beta,
            use_uncertainty=self.config.use_uncertainty,
        )
