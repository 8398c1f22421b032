"""The base class of every ``seqrec`` method: fit on training sequences, score every item of the target domain.

A subclass implements :meth:`SeqRecMethod.train` (learn from a :class:`~harness.tracks.seqrec.contract.SeqRecTrain`)
and :meth:`SeqRecMethod.score` (float array (n_users, n_items) for a
:class:`~harness.tracks.seqrec.contract.SeqRecInputs`); it may add diagnostic arrays (an LM's learning-rate and
loss curves) through :attr:`SeqRecMethod.extras_`. The base class sets the seed and the threads, checks the order
of calls and builds the :class:`~harness.api.Predictions`.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.errors import ParbenchError

__all__ = ["SeqRecMethod"]


class SeqRecMethod(Method):
    """A method of the seqrec track (see the module docstring); fitted attributes end in ``_``."""

    track = "seqrec"

    def fit(self, train: Any, budget: Budget, ctx: Context) -> SeqRecMethod:
        """Seed torch and numpy from ``ctx.seed``, use ``ctx.n_threads`` threads, then :meth:`train`."""
        import torch

        torch.set_num_threads(max(1, ctx.n_threads))
        torch.manual_seed(ctx.seed)
        self.budget_ = budget
        self.seed_ = ctx.seed
        self.device_ = ctx.device
        self.log_ = ctx.log
        self.n_items_ = train.n_items
        self.extras_: dict[str, np.ndarray] = {}
        self.train(train, budget, ctx)
        return self

    @abstractmethod
    def train(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Learn from the training sequences (every domain's; the target's validation items for selection)."""

    @abstractmethod
    def score(self, inputs: Any) -> np.ndarray:
        """Float array (n_users, n_items): a score for every item of the target domain, for every test user."""

    def predict(self, inputs: Any) -> Predictions:
        """``full_scores`` float32 (n_users, n_items) and the method's diagnostic arrays."""
        if not hasattr(self, "budget_"):
            msg = f"{type(self).__name__}.predict was called before fit; call fit(train, budget, ctx) first."
            raise ParbenchError(msg)
        scores = np.asarray(self.score(inputs), dtype=np.float32)
        return Predictions.of(full_scores=scores, **self.extras_)
