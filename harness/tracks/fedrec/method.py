"""The adapter every federated method of the ``fedrec`` track shares: simulate, then predict from the best round.

A subclass of :class:`FederatedRecommender` names its score model (:data:`harness.tracks.fedrec.fedsim.models.MODELS`)
and, optionally, a local-global view (:meth:`FederatedRecommender.make_view`). ``fit`` runs
:func:`harness.tracks.fedrec.fedsim.simulate` under the budget and keeps the snapshot of the round with the best
validation HR@10 (validation comes from the training side; the test candidates reach the method only in ``predict``);
``predict`` scores the test candidates and every item with that snapshot (:func:`fedrec_predictions`).

Threads: the client steps are many small tensor operations, which gain nothing from intra-op threads and lose a
lot to them on shared cores (measured: a round took ten times longer with two threads than with one on a busy
two-core machine), so ``fit`` runs with one thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.api import Budget, Context, Method, Predictions

__all__ = ["FederatedRecommender", "fed_config", "fedrec_predictions"]


def fed_config(budget: Any) -> Any:
    """Build the simulator's :class:`~harness.tracks.fedrec.fedsim.FedConfig` from a :class:`FedRecBudget`."""
    from harness.tracks.fedrec.fedsim import FedConfig

    return FedConfig(
        n_rounds=budget.n_rounds, clients_per_round=budget.clients_per_round, local_epochs=budget.local_epochs,
        batch_size=budget.batch_size, n_negatives=budget.n_negatives, lr=budget.lr, item_lr=budget.item_lr,
    )


def fedrec_predictions(
    model: Any, state: Any, inputs: Any, *, val_hr: np.ndarray, bytes_up: np.ndarray, bytes_down: np.ndarray
) -> Predictions:
    """Score the test candidates and every item with ``state``; add the item tables and per-round arrays.

    Args:
        model: The score model (:class:`~harness.tracks.fedrec.fedsim.FedModel`).
        state: The parameters to predict with (:class:`~harness.tracks.fedrec.fedsim.FedState`).
        inputs: The track's :class:`~harness.tracks.fedrec.FedRecInputs`.
        val_hr: float array of shape (n_rounds,), validation HR@10 per round.
        bytes_up: float array of shape (n_rounds,), bytes uploaded per round.
        bytes_down: float array of shape (n_rounds,), bytes downloaded per round.

    Returns:
        The track's predictions (see :mod:`harness.tracks.fedrec`).
    """
    import torch

    from harness.tracks.fedrec.fedsim import candidate_scores, full_scores, item_tables

    candidates = torch.as_tensor(np.asarray(inputs.candidates, dtype=np.int64))
    users = torch.as_tensor(np.asarray(inputs.embedding_users, dtype=np.int64))
    return Predictions.of(
        sampled_scores=candidate_scores(model, state, candidates),
        full_scores=full_scores(model, state, inputs.n_items),
        item_emb_global=state.items.detach().clone(),
        item_emb_personal=item_tables(state, users),
        val_hr=np.asarray(val_hr, dtype=np.float64),
        bytes_up=np.asarray(bytes_up, dtype=np.float64),
        bytes_down=np.asarray(bytes_down, dtype=np.float64),
    )


class FederatedRecommender(Method):
    """Base adapter: one :func:`~harness.tracks.fedrec.fedsim.simulate` run per job; subclasses set `model_name`."""

    track = "fedrec"
    kind = "baseline"
    #: Key of :data:`harness.tracks.fedrec.fedsim.models.MODELS`.
    model_name: ClassVar[str] = "mf"

    @dataclass(frozen=True)
    class Config:
        """No options: the budget fixes rounds, local training and learning rates."""

    def build_model(self, budget: Any) -> Any:
        """The score model of this method under ``budget``."""
        from harness.tracks.fedrec.fedsim import make_model

        return make_model(self.model_name, budget.embedding_dim)

    def make_view(self, budget: Any) -> Any:
        """The local-global view of the clients (None: clients score with the global or fine-tuned table)."""
        return None

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Run the federation for ``budget.n_rounds`` rounds and keep the best-validation snapshot."""
        import torch

        from harness.tracks.fedrec.fedsim import FedData, simulate

        torch.set_num_threads(1)
        data = FedData.from_train(train)
        self.model_ = self.build_model(budget)
        self.result_ = simulate(self.model_, data, fed_config(budget), seed=ctx.seed, view=self.make_view(budget),
                                log=ctx.log)
        ctx.log.info("%s: best validation HR@10 %.4f at round %d of %d (%.1f s, %s client step)", self.name,
                     float(self.result_.val_hr.max()), self.result_.best_round + 1, budget.n_rounds,
                     self.result_.seconds, self.result_.extra.get("engine", "batched"))

    def predict(self, inputs: Any) -> Predictions:
        """Scores of the best-validation round; item tables of that round."""
        result = self.result_
        return fedrec_predictions(self.model_, result.best_state, inputs, val_hr=result.val_hr,
                                  bytes_up=result.bytes_up, bytes_down=result.bytes_down)
