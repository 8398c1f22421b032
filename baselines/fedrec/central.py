"""Centralised matrix factorisation: the ceiling of the ``fedrec`` track (all data on one server).

The FedMF score model (:class:`harness.tracks.fedrec.fedsim.MatrixFactorization`) trained on the pooled interactions of
every user with minibatch Adam, for as many epochs as the budget has rounds, on the same samples' distribution (each
epoch: every training positive and ``n_negatives`` fresh negatives, drawn by the simulator's sampler). The
epoch with the best validation HR@10 is kept, as the federated methods keep their best round. Communication:
every training interaction goes to the server once (two int64 ids, round 0).

Reference:
    Koren, Bell, Volinsky. "Matrix Factorization Techniques for Recommender Systems." IEEE Computer 42(8), 2009.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.options import option

__all__ = ["CentralMF"]

#: Bytes of one collected interaction: a user id and an item id, int64.
INTERACTION_BYTES = 16



class CentralMF(Method):
    """Matrix factorisation trained on the pooled data with Adam; the best-validation epoch is kept."""

    name = "central-mf"
    kind = "baseline"
    paper = "Koren, Bell & Volinsky, IEEE Computer 2009 (MF), trained centrally as the ceiling"
    track = "fedrec"

    @dataclass(frozen=True)
    class Config:
        """Options of the centralised trainer (its optimiser differs from the clients' SGD on purpose)."""

        lr: float = option(0.01, "Adam learning rate.", gt=0)
        batch_size: int = option(4096, "Samples per minibatch of the pooled data.", ge=1)

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Train for ``budget.n_rounds`` epochs; keep the parameters of the best validation epoch."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        from harness.tracks.fedrec.fedsim import (
            FedData,
            FedState,
            MatrixFactorization,
            sample_round,
            validation_hit_rate,
        )

        torch.set_num_threads(1)
        data = FedData.from_train(train)
        self.model_ = MatrixFactorization(budget.embedding_dim)
        generator = torch.Generator().manual_seed(int(ctx.seed))
        items, _ = self.model_.init_shared(data.n_items, generator)
        user = self.model_.init_private(data.n_users, generator)["user"].requires_grad_()
        items.requires_grad_()
        optimizer = torch.optim.Adam([user, items], lr=self.config.lr)
        everyone = torch.arange(data.n_users)
        self.val_hr_ = np.zeros(budget.n_rounds)
        best = -1.0
        for epoch in range(budget.n_rounds):
            seed = np.random.SeedSequence([ctx.seed, epoch, 0xCE]).generate_state(1)[0]
            epoch_generator = torch.Generator().manual_seed(int(seed))
            samples = sample_round(data.train_indptr, data.train_items, data.exclude, everyone,
                                   n_negatives=budget.n_negatives, n_epochs=1, generator=epoch_generator)
            owner = torch.repeat_interleave(everyone, samples.indptr[1:] - samples.indptr[:-1])
            order = torch.randperm(len(owner), generator=epoch_generator)
            for start in range(0, len(order), self.config.batch_size):
                rows = order[start : start + self.config.batch_size]
                logits = (user[owner[rows]] * items[samples.items[rows]]).sum(1)
                loss = F.binary_cross_entropy_with_logits(logits, samples.labels[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            state = FedState({"user": user.detach()}, items.detach(), {})
            self.val_hr_[epoch] = validation_hit_rate(self.model_, state, data, k=10)
            if self.val_hr_[epoch] >= best:
                best, self.best_epoch_, self.state_ = self.val_hr_[epoch], epoch, state.clone()
        ctx.log.info("central-mf: best validation HR@10 %.4f at epoch %d", best, self.best_epoch_ + 1)
        self.bytes_up_ = np.zeros(budget.n_rounds)
        self.bytes_up_[0] = (len(train.train_items) + train.n_users) * INTERACTION_BYTES

    def predict(self, inputs: Any) -> Predictions:
        """Scores of the best-validation epoch."""
        from harness.tracks.fedrec import fedrec_predictions

        return fedrec_predictions(self.model_, self.state_, inputs, val_hr=self.val_hr_, bytes_up=self.bytes_up_,
                                  bytes_down=np.zeros_like(self.bytes_up_))
