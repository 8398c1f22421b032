"""Most-popular items: the non-personalised floor of the ``seqrec`` track.

Each item of the target domain scores its number of training events in that domain (every user gets the same
ranking; the track masks each user's history before ranking).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from baselines.seqrec._common import validation_hit_rate
from harness.api import Context
from harness.tracks.seqrec.budget import SeqRecBudget
from harness.tracks.seqrec.contract import SeqRecInputs, SeqRecTrain
from harness.tracks.seqrec.method import SeqRecMethod

__all__ = ["Popularity"]


class Popularity(SeqRecMethod):
    """Rank the target domain's items by their training events in that domain."""

    name = "seq-popularity"
    kind = "baseline"
    paper = "most-popular ranking (the usual non-personalised reference)"

    @dataclass(frozen=True)
    class Config:
        """No options."""

    def train(self, train: SeqRecTrain, budget: SeqRecBudget, ctx: Context) -> None:
        """Count the target domain's training events per item; log the validation HR@10 of that ranking."""
        domain = train.domain
        self.counts_ = np.bincount(domain.items, minlength=train.n_items).astype(np.float32)
        scores = np.broadcast_to(self.counts_, (domain.n_users, train.n_items))
        self.val_hr_ = validation_hit_rate(scores, domain.indptr, domain.items, train.val_items)
        self.log_.info("%s: validation HR@10 %.4f", self.name, self.val_hr_)

    def score(self, inputs: SeqRecInputs | Any) -> np.ndarray:
        """float32 (n_users, n_items): the training counts, the same row for every user."""
        return np.broadcast_to(self.counts_, (len(inputs), len(self.counts_))).copy()
