"""GRU4Rec: a recurrent network over the item sequence, as RecBole configures it (next-item cross-entropy).

Item embedding (dropout) -> GRU (no bias, so left padding leaves the state at zero) -> dense layer back to the
embedding width; the item embedding table is the output layer (full-softmax cross-entropy over all items).

Reference:
    Hidasi, Karatzoglou, Baltrunas, Tikk. "Session-based Recommendations with Recurrent Neural Networks."
    ICLR 2016 (arXiv:1511.06939); the configuration of RecBole's ``GRU4Rec`` (Zhao et al., CIKM 2021).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from baselines.seqrec._common import NeuralSeqRec, next_item_loss
from harness.options import option
from harness.tracks.seqrec.budget import SeqRecBudget

__all__ = ["GRU4Rec", "GRU4RecModel"]


class GRU4RecModel(nn.Module):
    """Embedding -> dropout -> GRU -> dense; scores are dot products with the item embeddings.

    Args:
        n_items: Items (token ids 1..n_items; 0 is padding).
        dim: Width of the item embeddings.
        hidden: Width of the GRU state.
        n_layers: Stacked GRU layers.
        dropout: Dropout on the item embeddings.
    """

    def __init__(self, n_items: int, dim: int, hidden: int, n_layers: int, dropout: float) -> None:
        super().__init__()
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.drop = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, hidden, num_layers=n_layers, bias=False, batch_first=True)
        self.dense = nn.Linear(hidden, dim)
        nn.init.xavier_normal_(self.items.weight)
        with torch.no_grad():
            self.items.weight[0].zero_()
        for weight in self.gru.parameters():
            nn.init.xavier_uniform_(weight)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 (B, L) tokens (left-padded with 0) -> float (B, L, dim) states (position t sees tokens <= t)."""
        states, _ = self.gru(self.drop(self.items(tokens)))
        return self.dense(states)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float (..., dim) states -> float (..., n_items) scores, column j for local item j."""
        return hidden @ self.items.weight[1:].T


class GRU4Rec(NeuralSeqRec):
    """GRU4Rec trained with next-item cross-entropy over all items at every position (see the module docstring)."""

    name = "gru4rec"
    paper = "Hidasi et al., ICLR 2016 (GRU4Rec), in RecBole's configuration"

    @dataclass(frozen=True)
    class Config:
        """Options of GRU4Rec (width, history length, steps, learning rate and dropout come from the budget)."""

        hidden_size: int = option(0, "Width of the GRU state; 0: twice budget.embedding_dim (RecBole: 128 for an "
                                  "embedding of 64).", ge=0)
        n_layers: int = option(1, "Stacked GRU layers (RecBole: 1).", ge=1)

    def build_model(self, n_items: int, budget: SeqRecBudget) -> nn.Module:
        """A :class:`GRU4RecModel` of the budget's width and dropout."""
        hidden = self.config.hidden_size or 2 * budget.embedding_dim
        return GRU4RecModel(n_items, budget.embedding_dim, hidden, self.config.n_layers, budget.dropout)

    def loss(self, model: nn.Module, windows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Next-item cross-entropy over all items at every position."""
        return next_item_loss(model, windows)
