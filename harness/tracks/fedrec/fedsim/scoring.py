"""Scores of a federated model's clients: candidate lists, full rankings and item tables, from a state.

A client scores with its private parameters, the dense shared parameters and an item table: the global one, or
its own personalised table where the method keeps one (``state.personal``). Users are scored in chunks, so a full
ranking costs O(chunk * n_items * dim) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.tracks.fedrec.fedsim.models import FedModel
from harness.tracks.fedrec.fedsim.personal import PersonalTables

__all__ = ["FedState", "candidate_scores", "full_scores", "item_tables"]

#: Users scored at once.
USERS_PER_CHUNK = 256
#: Most bytes of the item embeddings of one chunk of a full ranking ((users, n_items, dim) float32): fewer users per
#: chunk for a large item table.
FULL_CHUNK_BYTES = 64 << 20


@dataclass
class FedState:
    """Every parameter of a federation at one moment.

    Attributes:
        private: Each private parameter, float32 of shape (n_users, ...); never sent to the server.
        items: float32 tensor of shape (n_items, dim), the global item table.
        dense: The dense shared parameters (global).
        personal: Optional :class:`~harness.tracks.fedrec.fedsim.personal.PersonalTables`, each client's local item
            table (the download of its last round with its trained rows in place); None when clients score with
            ``items``.
        alpha: Optional float32 tensor of shape (n_users,): a client scores with ``alpha * personal + (1 - alpha)
            * items`` (PLGC); None: with ``personal`` alone (PFedRec), or ``items`` when there is no ``personal``.
    """

    private: dict[str, torch.Tensor]
    items: torch.Tensor
    dense: dict[str, torch.Tensor]
    personal: PersonalTables | None = None
    alpha: torch.Tensor | None = None

    def clone(self) -> FedState:
        """A deep copy (a snapshot that later rounds do not change)."""
        return FedState(
            {k: v.clone() for k, v in self.private.items()},
            self.items.clone(),
            {k: v.clone() for k, v in self.dense.items()},
            None if self.personal is None else self.personal.clone(),
            None if self.alpha is None else self.alpha.clone(),
        )

    def user_tables(self, users: torch.Tensor, items: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings users score with: of ``items`` (B, C) per user -> (B, C, dim); all items when None."""
        if self.personal is None:
            return self.items.expand(len(users), *self.items.shape) if items is None else self.items[items]
        own = self.personal.gather(users, items)
        if self.alpha is None:
            return own
        shared = self.items.expand(len(users), *self.items.shape) if items is None else self.items[items]
        return torch.lerp(shared, own, self.alpha[users][:, None, None])


def _chunk_scores(model: FedModel, state: FedState, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Logits of ``users`` (B,) for ``items`` (B, C) -> (B, C)."""
    emb = state.user_tables(users, items)
    private = {k: v[users] for k, v in state.private.items()}
    dense = {k: v.expand(len(users), *v.shape) for k, v in state.dense.items()}
    return model.logits(private, emb, dense)


@torch.no_grad()
def candidate_scores(model: FedModel, state: FedState, candidates: torch.Tensor) -> torch.Tensor:
    """Score each user's candidate items.

    Args:
        model: The score model.
        state: The parameters to score with.
        candidates: int64 tensor of shape (n_users, C), row u the items of user u.

    Returns:
        float32 tensor of shape (n_users, C), logits.
    """
    out = torch.empty(candidates.shape, dtype=torch.float32)
    for start in range(0, len(candidates), USERS_PER_CHUNK):
        users = torch.arange(start, min(start + USERS_PER_CHUNK, len(candidates)))
        out[users] = _chunk_scores(model, state, users, candidates[users])
    return out


@torch.no_grad()
def full_scores(model: FedModel, state: FedState, n_items: int) -> torch.Tensor:
    """Score every item for every user: float32 tensor of shape (n_users, n_items), logits."""
    n_users = next(iter(state.private.values())).shape[0]
    out = torch.empty(n_users, n_items, dtype=torch.float32)
    every = torch.arange(n_items)
    width = max(1, min(USERS_PER_CHUNK, FULL_CHUNK_BYTES // max(1, 4 * n_items * state.items.shape[1])))
    for start in range(0, n_users, width):
        users = torch.arange(start, min(start + width, n_users))
        out[users] = _chunk_scores(model, state, users, every.expand(len(users), n_items))
    return out


def item_tables(state: FedState, users: torch.Tensor) -> torch.Tensor:
    """The item tables ``users`` score with: float32 tensor of shape (len(users), n_items, dim)."""
    return state.user_tables(users).clone()
