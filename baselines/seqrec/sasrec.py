"""SASRec: causal self-attention over the item sequence (Kang & McAuley), trained at every position.

Item embedding (scaled by sqrt(dim), as the paper's code does) plus a learned positional embedding (counted from the
most recent item), dropout, then ``n_blocks`` pre-norm blocks (causal multi-head attention, ReLU feed-forward of the
same width, residuals, dropout) and a final layer norm; the state at position ``t`` scores item ``t + 1`` by its dot
product with the item embeddings (shared input and output table). The paper's loss is binary cross-entropy of the
next item against one uniformly sampled negative per position; ``loss="ce"`` trains with the full-softmax
cross-entropy over all items instead (RecBole's default for SASRec).

Reference:
    Kang, McAuley. "Self-Attentive Sequential Recommendation." ICDM 2018 (arXiv:1808.09781).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from baselines.seqrec._common import NeuralSeqRec, TransformerBlock, attention_mask, next_item_loss
from harness.options import option
from harness.tracks.seqrec.budget import SeqRecBudget

__all__ = ["SASRec", "SASRecModel", "sample_negatives"]

#: Redraws of a negative that hit an item of its window before it is kept as drawn.
NEGATIVE_REDRAWS = 10


class SASRecModel(nn.Module):
    """Causal transformer over item tokens; scores are dot products with the item embeddings.

    Args:
        n_items: Items (token ids 1..n_items; 0 is padding).
        dim: Width of the embeddings and hidden states.
        max_len: Longest input (positions learned).
        n_blocks: Self-attention blocks.
        n_heads: Attention heads per block (``dim`` must be divisible by it).
        dropout: Dropout on the embeddings, the attention weights and each sub-layer's output.
    """

    def __init__(self, n_items: int, dim: int, max_len: int, n_blocks: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.scale = dim**0.5
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, n_heads, dropout, dim, "relu", norm_first=True) for _ in range(n_blocks)
        )
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_normal_(param)
        with torch.no_grad():
            self.items.weight[0].zero_()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 (B, L) tokens (left-padded with 0, L <= max_len) -> float (B, L, dim) states (t sees <= t).

        Positions count from the right: the last token always has the last position embedding.
        """
        keep = (tokens > 0).unsqueeze(-1)
        positions = self.positions.weight[self.positions.num_embeddings - tokens.shape[1] :]
        x = self.items(tokens) * self.scale + positions
        x = self.drop(x) * keep
        mask = attention_mask(tokens, causal=True)
        for block in self.blocks:
            x = block(x, mask) * keep
        return self.norm(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float (..., dim) states -> float (..., n_items) scores, column j for local item j."""
        return hidden @ self.items.weight[1:].T


def sample_negatives(windows: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """One uniform negative per position, redrawn (up to 10 times) while it is an item of its window.

    Args:
        windows: int64 array of shape (B, L): shifted item ids, 0 padding.
        n_items: Items of the domain (negatives lie in 1..n_items).
        rng: The generator of the draws.

    Returns:
        int64 array of shape (B, L - 1): a negative for each target position ``windows[:, 1:]``.

    Example:
        >>> neg = sample_negatives(np.array([[0, 1, 2]]), 3, np.random.default_rng(0))
        >>> neg.tolist()
        [[3, 3]]
    """
    negatives = rng.integers(1, n_items + 1, size=(windows.shape[0], windows.shape[1] - 1))
    for _ in range(NEGATIVE_REDRAWS):
        clash = (negatives[:, :, None] == windows[:, None, :]).any(-1)
        if not clash.any():
            break
        negatives[clash] = rng.integers(1, n_items + 1, size=int(clash.sum()))
    return negatives


class SASRec(NeuralSeqRec):
    """SASRec trained on every position of the target domain's sequences (see the module docstring)."""

    name = "sasrec"
    paper = "Kang & McAuley, ICDM 2018 (SASRec)"

    @dataclass(frozen=True)
    class Config:
        """Options of SASRec (width, history length, steps, learning rate and dropout come from the budget)."""

        n_blocks: int = option(2, "Self-attention blocks (paper: 2).", ge=1)
        n_heads: int = option(2, "Attention heads; 1 when budget.embedding_dim is not divisible by it (paper: 1, "
                              "RecBole: 2).", ge=1)
        loss: str = option("bce", "'bce': the paper's binary cross-entropy with one sampled negative per position; "
                           "'ce': full-softmax cross-entropy over all items (RecBole's default).",
                           choices=("bce", "ce"))

    def build_model(self, n_items: int, budget: SeqRecBudget) -> nn.Module:
        """A :class:`SASRecModel` of the budget's width, history length and dropout."""
        heads = self.config.n_heads if budget.embedding_dim % self.config.n_heads == 0 else 1
        if heads != self.config.n_heads:
            self.log_.info("%s: embedding_dim %d is not divisible by n_heads %d; using 1 head", self.name,
                           budget.embedding_dim, self.config.n_heads)
        return SASRecModel(n_items, budget.embedding_dim, budget.max_len, self.config.n_blocks, heads,
                           budget.dropout)

    def loss(self, model: nn.Module, windows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The paper's BCE with one negative per position, or the full-softmax cross-entropy (``loss="ce"``)."""
        if self.config.loss == "ce":
            return next_item_loss(model, windows)
        negatives = torch.from_numpy(sample_negatives(windows.cpu().numpy(), self.n_items_, rng)).to(windows.device)
        inputs, targets = windows[:, :-1], windows[:, 1:]
        valid = (inputs > 0) & (targets > 0)
        hidden = model(inputs)[valid]
        positive = (hidden * model.items(targets[valid])).sum(-1)
        negative = (hidden * model.items(negatives[valid])).sum(-1)
        return (F.binary_cross_entropy_with_logits(positive, torch.ones_like(positive))
                + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative)))
