"""BERT4Rec: a bidirectional transformer over the item sequence trained on the cloze task (Sun et al.).

Item embedding (a ``[MASK]`` token after the items) plus a learned positional embedding (counted from the most
recent item), layer norm and dropout, then ``n_layers`` post-norm transformer layers (bidirectional multi-head
attention, GELU feed-forward of four times the width) and the paper's output head (dense, GELU, layer norm, dot
product with the item embeddings plus a per-item bias). Training: each item of a training window is replaced by
``[MASK]`` with probability ``mask_prob`` (at least one per window: the last item if the draw masked none), a share
``last_item_prob`` of the windows masks only its last item (the paper's samples that match the prediction task), and
the full-softmax cross-entropy of the masked items is minimised. Prediction: ``[MASK]`` is appended after the last
``max_len - 1`` items of the history and its output scores the next item.

Reference:
    Sun, Liu, Wu, Pei, Lin, Ou, Jiang. "BERT4Rec: Sequential Recommendation with Bidirectional Encoder
    Representations from Transformer." CIKM 2019 (arXiv:1904.06690).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from baselines.seqrec._common import NeuralSeqRec, TransformerBlock, attention_mask
from harness.options import option
from harness.tracks.seqrec.budget import SeqRecBudget
from harness.tracks.seqrec.contract import pad_histories

__all__ = ["BERT4Rec", "BERT4RecModel"]


class BERT4RecModel(nn.Module):
    """Bidirectional transformer over item tokens with BERT's masked-item output head.

    Args:
        n_items: Items (token ids 1..n_items; 0 is padding, ``n_items + 1`` is ``[MASK]``).
        dim: Width of the embeddings and hidden states.
        max_len: Longest input (positions learned).
        n_layers: Transformer layers.
        n_heads: Attention heads per layer (``dim`` must be divisible by it).
        dropout: Dropout on the embeddings, the attention weights and each sub-layer's output.
    """

    def __init__(self, n_items: int, dim: int, max_len: int, n_layers: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.n_items = n_items
        self.items = nn.Embedding(n_items + 2, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            TransformerBlock(dim, n_heads, dropout, 4 * dim, "gelu", norm_first=False) for _ in range(n_layers)
        )
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim, eps=1e-12))
        self.bias = nn.Parameter(torch.zeros(n_items))
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.trunc_normal_(module.weight, std=0.02, a=-0.04, b=0.04)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        with torch.no_grad():
            self.items.weight[0].zero_()

    @property
    def mask_token(self) -> int:
        """Token id of ``[MASK]``."""
        return self.n_items + 1

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """int64 (B, L) tokens (left-padded with 0, L <= max_len) -> float (B, L, dim) output-head states.

        Positions count from the right: the last token always has the last position embedding.
        """
        positions = self.positions.weight[self.positions.num_embeddings - tokens.shape[1] :]
        x = self.drop(self.norm(self.items(tokens) + positions))
        mask = attention_mask(tokens, causal=False)
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(x)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Float (..., dim) states -> float (..., n_items) scores, column j for local item j."""
        return hidden @ self.items.weight[1 : self.n_items + 1].T + self.bias


class BERT4Rec(NeuralSeqRec):
    """BERT4Rec trained on the cloze task over the target domain's sequences (see the module docstring)."""

    name = "bert4rec"
    paper = "Sun et al., CIKM 2019 (BERT4Rec)"
    #: Cloze windows cover each item once.
    window_overlap = 0

    @dataclass(frozen=True)
    class Config:
        """Options of BERT4Rec (width, history length, steps, learning rate and dropout come from the budget)."""

        n_layers: int = option(2, "Transformer layers (paper: 2).", ge=1)
        n_heads: int = option(2, "Attention heads; 1 when budget.embedding_dim is not divisible by it (paper: 2).",
                              ge=1)
        mask_prob: float = option(0.2, "Probability that a training item is replaced by [MASK] (paper: 0.2 for "
                                  "ML-1m and ML-20m, 0.4 for Steam, 0.6 for Beauty; RecBole: 0.2).", gt=0, le=1)
        last_item_prob: float = option(0.1, "Share of training windows that mask their last item only (the paper's "
                                       "extra samples that match the prediction task; 0: none, as RecBole).",
                                       ge=0, le=1)

    def build_model(self, n_items: int, budget: SeqRecBudget) -> nn.Module:
        """A :class:`BERT4RecModel` of the budget's width, history length and dropout."""
        heads = self.config.n_heads if budget.embedding_dim % self.config.n_heads == 0 else 1
        if heads != self.config.n_heads:
            self.log_.info("%s: embedding_dim %d is not divisible by n_heads %d; using 1 head", self.name,
                           budget.embedding_dim, self.config.n_heads)
        return BERT4RecModel(n_items, budget.embedding_dim, budget.max_len, self.config.n_layers, heads,
                             budget.dropout)

    def window_length(self, budget: SeqRecBudget) -> int:
        """Items per cloze window: ``max_len``."""
        return budget.max_len

    def tokens(self, indptr: np.ndarray, items: np.ndarray) -> np.ndarray:
        """int64 (n_users, max_len): the last ``max_len - 1`` history items (shifted), then ``[MASK]``."""
        history = pad_histories(indptr, items, self.budget_.max_len - 1)
        return np.concatenate([history, np.full((len(history), 1), self.n_items_ + 1, dtype=np.int64)], axis=1)

    def loss(self, model: nn.Module, windows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Cross-entropy over all items of the masked positions (``mask_prob`` each, at least one per window).

        A share ``last_item_prob`` of the windows masks its last item only (left padding: the last column).
        """
        real = windows.cpu().numpy() > 0
        masked = (rng.random(real.shape) < self.config.mask_prob) & real
        last_only = rng.random(len(real)) < self.config.last_item_prob
        masked[last_only] = False
        masked[~masked.any(1), -1] = True
        masked_t = torch.from_numpy(masked).to(windows.device)
        inputs = windows.masked_fill(masked_t, model.mask_token)
        hidden = model(inputs)[masked_t]
        return F.cross_entropy(model.logits(hidden), windows[masked_t] - 1)
