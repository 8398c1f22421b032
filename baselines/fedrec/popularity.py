"""Most-popular items: the non-personalised, non-federated floor of the ``fedrec`` track.

Each item scores its number of training users (plus validation users for the test predictions); every user
gets the same ranking. Its "embedding" is the one-column table of those counts plus one: the score matrix of
popularity has rank one, and the collapse measures say so. Communication: the server collects every training
interaction once (two int64 ids each, in round 0) and ranks centrally.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions

__all__ = ["Popularity"]

#: Bytes of one collected interaction: a user id and an item id, int64.
INTERACTION_BYTES = 16


class Popularity(Method):
    """Rank items by how many training users interacted with them."""

    name = "popularity"
    kind = "baseline"
    paper = "most-popular ranking (the usual non-personalised reference)"
    track = "fedrec"

    @dataclass(frozen=True)
    class Config:
        """No options."""

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Count users per item on the training items; validation HR from those counts alone."""
        train_counts = np.bincount(train.train_items, minlength=train.n_items).astype(np.float64)
        val_scores = train_counts[train.val_candidates]
        rank = (val_scores[:, 1:] >= val_scores[:, :1]).sum(1)
        self.val_hr_ = np.full(budget.n_rounds, float(np.mean(rank < 10)))
        self.counts_ = train_counts + np.bincount(train.val_candidates[:, 0], minlength=train.n_items)
        self.bytes_up_ = np.zeros(budget.n_rounds)
        self.bytes_up_[0] = (len(train.train_items) + train.n_users) * INTERACTION_BYTES

    def predict(self, inputs: Any) -> Predictions:
        """The same counts for every user."""
        n_users = len(inputs.candidates)
        counts = self.counts_.astype(np.float32)
        table = (counts + 1)[:, None]
        return Predictions.of(
            sampled_scores=counts[inputs.candidates],
            full_scores=np.broadcast_to(counts, (n_users, len(counts))).copy(),
            item_emb_global=table,
            item_emb_personal=np.broadcast_to(table, (len(inputs.embedding_users), *table.shape)).copy(),
            val_hr=self.val_hr_, bytes_up=self.bytes_up_, bytes_down=np.zeros_like(self.bytes_up_),
        )
