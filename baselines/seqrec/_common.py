"""What the ID-based sequential recommenders of the ``seqrec`` track share: windows, the training loop, scoring.

- :func:`sequence_windows`: every training sequence cut into fixed-length, left-padded windows that together
  cover each of its transitions once.
- :func:`trim_padding`: a batch cut to its longest row (left padding that no row needs is dropped).
- :func:`batch_indices`: the rows of each optimiser step, drawn as a stream of seeded permutations (epochs).
- :class:`TransformerBlock`: one multi-head self-attention block (pre- or post-norm), used by SASRec and BERT4Rec.
- :class:`NeuralSeqRec`: the adapter every neural baseline subclasses; it builds the windows of the target domain,
  runs ``budget.steps`` Adam steps, logs the validation HR@10 and scores the test histories in batches.

Item ids inside the models are shifted by one (``0`` is padding); ``logits`` columns are the domain's local ids.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.api import Context
from harness.tracks.seqrec.budget import SeqRecBudget
from harness.tracks.seqrec.contract import SeqRecInputs, SeqRecTrain, pad_histories
from harness.tracks.seqrec.method import SeqRecMethod

__all__ = [
    "NeuralSeqRec",
    "TransformerBlock",
    "batch_indices",
    "next_item_loss",
    "sequence_windows",
    "trim_padding",
    "validation_hit_rate",
]

#: Histories scored per forward pass in :meth:`NeuralSeqRec.score`.
SCORE_BATCH = 256


def sequence_windows(indptr: np.ndarray, items: np.ndarray, length: int, *, overlap: int,
                     min_items: int = 2) -> np.ndarray:
    """Cut every sequence into windows of ``length`` items, from its end, left-padded with 0, ids shifted by 1.

    Consecutive windows of one sequence share ``overlap`` items: with ``overlap=1`` every transition
    (item ``t`` -> item ``t + 1``) lies in exactly one window (next-item training), with ``overlap=0`` every item
    lies in exactly one window (cloze training). A sequence no longer than ``length`` gives one window.

    Args:
        indptr: int64 array of shape (n_rows + 1,), offsets into ``items``.
        items: int64 array of shape (n_events,), local item ids, each row's in time order.
        length: Items per window.
        overlap: Items two consecutive windows of a row share (``0 <= overlap < length``).
        min_items: Windows with fewer items are dropped (a single item has no transition).

    Returns:
        int64 array of shape (n_windows, length): item id + 1, 0 for padding; windows in row order, each row's
        from its end backwards.

    Example:
        >>> sequence_windows(np.array([0, 5, 6]), np.arange(6), 3, overlap=1).tolist()
        [[3, 4, 5], [1, 2, 3]]
    """
    out = []
    for row in range(len(indptr) - 1):
        seq = np.asarray(items[indptr[row]:indptr[row + 1]], dtype=np.int64) + 1
        end = len(seq)
        while end > 0:
            start = max(0, end - length)
            if end - start >= min_items:
                window = np.zeros(length, dtype=np.int64)
                window[length - (end - start):] = seq[start:end]
                out.append(window)
            if start == 0:
                break
            end = start + overlap
    return np.stack(out) if out else np.zeros((0, length), dtype=np.int64)


def batch_indices(n_rows: int, batch_size: int, steps: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Rows of each of ``steps`` batches: consecutive slices of a stream of random permutations of the rows.

    Every row is drawn once per epoch; a batch may span two epochs; ``batch_size`` larger than ``n_rows`` repeats
    rows within a batch (whole epochs).

    Args:
        n_rows: Rows to draw from (at least 1).
        batch_size: Rows per batch.
        steps: Batches yielded.
        rng: The generator of the permutations.

    Yields:
        int64 array of shape (batch_size,).

    Example:
        >>> [len(b) for b in batch_indices(5, 3, 4, np.random.default_rng(0))]
        [3, 3, 3, 3]
    """
    stream = np.zeros(0, dtype=np.int64)
    for _ in range(steps):
        while len(stream) < batch_size:
            stream = np.concatenate([stream, rng.permutation(n_rows)])
        yield stream[:batch_size]
        stream = stream[batch_size:]


def validation_hit_rate(scores: np.ndarray, indptr: np.ndarray, items: np.ndarray, targets: np.ndarray,
                        k: int = 10) -> float:
    """HR@k of ``targets`` under ``scores``, each row's history items masked (full ranking, ties count against).

    Args:
        scores: float array of shape (n_users, n_items).
        indptr: int64 array of shape (n_users + 1,), offsets of each user's history into ``items``.
        items: int64 array of the histories' local item ids.
        targets: int64 array of shape (n_users,): the item to find.
        k: Cut-off.

    Returns:
        The share of users whose target has fewer than ``k`` unmasked items scored at least as high.

    Example:
        >>> validation_hit_rate(np.array([[0.0, 1.0, 2.0]]), np.array([0, 1]), np.array([2]), np.array([1]), k=1)
        1.0
    """
    scores = np.array(scores, dtype=np.float64)
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    target_scores = scores[np.arange(len(targets)), targets].copy()
    scores[rows, items] = -np.inf
    scores[np.arange(len(targets)), targets] = -np.inf
    rank = (scores >= target_scores[:, None]).sum(1)
    return float(np.mean(rank < k))


class TransformerBlock(nn.Module):
    """Multi-head self-attention then a position-wise feed-forward network, each with a residual and a layer norm.

    Args:
        dim: Width of the hidden states.
        n_heads: Attention heads (``dim`` must be divisible by it).
        dropout: Dropout on the attention weights and on both sub-layers' outputs.
        ffn_dim: Inner width of the feed-forward network.
        activation: ``"relu"`` (SASRec) or ``"gelu"`` (BERT4Rec).
        norm_first: Pre-norm ``x + f(LN(x))`` (SASRec) or post-norm ``LN(x + f(x))`` (BERT4Rec).
    """

    def __init__(self, dim: int, n_heads: int, dropout: float, ffn_dim: int, activation: str, *,
                 norm_first: bool) -> None:
        super().__init__()
        self.n_heads, self.dropout, self.norm_first = n_heads, dropout, norm_first
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        act = nn.ReLU() if activation == "relu" else nn.GELU()
        self.ffn = nn.Sequential(nn.Linear(dim, ffn_dim), act, nn.Dropout(dropout), nn.Linear(ffn_dim, dim))
        self.norm_attn = nn.LayerNorm(dim, eps=1e-8 if norm_first else 1e-12)
        self.norm_ffn = nn.LayerNorm(dim, eps=1e-8 if norm_first else 1e-12)
        self.drop = nn.Dropout(dropout)

    def attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Self-attention of float (B, L, dim) states under bool (B, 1, L, L) ``mask`` (True: may attend)."""
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.n_heads, dim // self.n_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Float (B, L, dim) states and bool (B, 1, L, L) attention mask -> float (B, L, dim) states."""
        if self.norm_first:
            x = x + self.drop(self.attend(self.norm_attn(x), mask))
            return x + self.drop(self.ffn(self.norm_ffn(x)))
        x = self.norm_attn(x + self.drop(self.attend(x, mask)))
        return self.norm_ffn(x + self.drop(self.ffn(x)))


def trim_padding(tokens: np.ndarray) -> np.ndarray:
    """Drop the leading columns of int64 (B, L) left-padded ``tokens`` that are padding in every row.

    The models of this package give the same output for the kept columns either way (positions are counted from
    the right, padding keys are masked, and a bias-free GRU keeps a zero state over padding), so a batch of short
    sequences costs only its longest row.

    Example:
        >>> trim_padding(np.array([[0, 0, 1], [0, 2, 3]])).tolist()
        [[0, 1], [2, 3]]
    """
    real = (tokens > 0).any(0)
    return tokens[:, int(real.argmax()):] if real.any() else tokens[:, -1:]


def attention_mask(tokens: torch.Tensor, *, causal: bool) -> torch.Tensor:
    """Bool (B, 1, L, L) mask for int64 (B, L) ``tokens``: keys that are not padding (and not later, if causal).

    Every position may attend to itself, so that a padding row is never fully masked (its output is unused).
    """
    length = tokens.shape[1]
    allowed = (tokens > 0)[:, None, None, :].expand(-1, 1, length, -1)
    if causal:
        allowed = allowed & torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
    return allowed | torch.eye(length, dtype=torch.bool, device=tokens.device)


def next_item_loss(model: nn.Module, windows: torch.Tensor) -> torch.Tensor:
    """Full-softmax cross-entropy of the next item at every position of int64 (B, length) windows.

    The model reads ``windows[:, :-1]`` (a causal model: position ``t`` sees items up to ``t``) and predicts
    ``windows[:, 1:]``; positions whose input or target is padding are left out. Returns a scalar tensor.
    """
    inputs, targets = windows[:, :-1], windows[:, 1:]
    valid = (inputs > 0) & (targets > 0)
    hidden = model(inputs)[valid]
    return F.cross_entropy(model.logits(hidden), targets[valid] - 1)


class NeuralSeqRec(SeqRecMethod):
    """Base adapter of the neural baselines: a model of ``(B, L)`` item tokens, trained on the target domain.

    A subclass implements :meth:`build_model` (an ``nn.Module`` whose ``forward`` maps int64 (B, L) tokens to float
    (B, L, dim) states and whose ``logits`` maps float (..., dim) states to float (..., n_items) item scores) and
    :meth:`loss`; it may change :meth:`window_length`, :attr:`window_overlap` and :meth:`tokens` (how a history
    becomes the model's input; the last position's state scores the next item).
    """

    kind = "baseline"
    #: Items two consecutive training windows of a sequence share (1: next-item training, see sequence_windows).
    window_overlap = 1

    @abstractmethod
    def build_model(self, n_items: int, budget: SeqRecBudget) -> nn.Module:
        """The untrained model for ``n_items`` items (ids 1..n_items, 0 padding) under ``budget``."""

    @abstractmethod
    def loss(self, model: nn.Module, windows: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """Scalar training loss of int64 (B, window_length) windows (shifted ids, 0 padding)."""

    def window_length(self, budget: SeqRecBudget) -> int:
        """Items per training window (next-item training: ``max_len`` inputs and one more target)."""
        return budget.max_len + 1

    def tokens(self, indptr: np.ndarray, items: np.ndarray) -> np.ndarray:
        """int64 (n_users, max_len) model input of histories in CSR form: their last ``max_len`` items, shifted."""
        return pad_histories(indptr, items, self.budget_.max_len)

    def train(self, train: SeqRecTrain, budget: SeqRecBudget, ctx: Context) -> None:
        """Run ``budget.steps`` Adam steps on windows of the target domain's sequences; log validation HR@10."""
        domain = train.domain
        windows = sequence_windows(domain.indptr, domain.items, self.window_length(budget),
                                   overlap=self.window_overlap)
        self.model_ = self.build_model(train.n_items, budget).to(self.device_)
        self.losses_ = np.zeros(budget.steps)
        if len(windows):
            optimizer = torch.optim.Adam(self.model_.parameters(), lr=budget.learning_rate)
            rng = np.random.default_rng(self.seed_)
            self.model_.train()
            for step, rows in enumerate(batch_indices(len(windows), budget.batch_size, budget.steps, rng)):
                batch = torch.from_numpy(trim_padding(windows[rows])).to(self.device_)
                loss = self.loss(self.model_, batch, rng)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                self.losses_[step] = float(loss.detach())
        self.model_.eval()
        self.val_hr_ = validation_hit_rate(self.score_histories(domain.indptr, domain.items, train.n_items),
                                           domain.indptr, domain.items, train.val_items)
        tail = float(np.mean(self.losses_[-20:])) if budget.steps else float("nan")
        self.log_.info("%s: %d windows, %d steps, final loss %.4f, validation HR@10 %.4f", self.name, len(windows),
                       budget.steps, tail, self.val_hr_)

    @torch.no_grad()
    def score_histories(self, indptr: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
        """float32 (n_users, n_items): the model's score of every item after each history (CSR form)."""
        tokens = self.tokens(indptr, items)
        out = np.empty((len(tokens), n_items), dtype=np.float32)
        for start in range(0, len(tokens), SCORE_BATCH):
            batch = torch.from_numpy(trim_padding(tokens[start:start + SCORE_BATCH])).to(self.device_)
            out[start:start + SCORE_BATCH] = self.model_.logits(self.model_(batch)[:, -1]).float().cpu().numpy()
        return out

    def score(self, inputs: SeqRecInputs | Any) -> np.ndarray:
        """float32 (n_users, n_items): scores after each test history (training items and the validation item)."""
        return self.score_histories(inputs.indptr, inputs.items, inputs.n_items)
