"""The AMMDNN network in plain PyTorch (no harness import): modality paths, attention over paths, shared layers, heads.

Shapes: ``blocks`` is a list of float32 tensors, one per modality, (n, d_m + 1): the modality's imputed features
followed by its presence flag; ``present`` is a bool tensor (n, n_modalities). The network returns the predicted
targets (n, n_targets) and the attention weights (n, n_modalities), exactly 0 for an absent modality and summing
to 1 over the present ones (None without attention). The fusion multiplies each path's output by its weight
(times the number of paths, so that equal weights leave the outputs as they are) and concatenates them: the
attention scales the modalities, and the shared layers still see which modality said what.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["AmmdnnNet", "ModalityPath", "PathAttention", "ccc_loss"]


class ModalityPath(nn.Module):
    """One modality's path: two fully connected ReLU layers with dropout, (n, d) -> (n, hidden)."""

    def __init__(self, in_features: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Path output (n, hidden)."""
        return self.layers(x)


class PathAttention(nn.Module):
    """Additive attention over the path outputs: a score per (item, path), a softmax over the present paths."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        width = max(1, hidden // 2)
        self.score = nn.Sequential(nn.Linear(hidden, width), nn.Tanh(), nn.Linear(width, 1))

    def forward(self, paths: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Weights (n, M) of (n, M, hidden) path outputs: exactly 0 for absent paths, summing to 1 over present ones.

        An item with no present path gets all-zero weights.
        """
        scores = self.score(paths).squeeze(-1).masked_fill(~present, float("-inf"))
        any_present = present.any(dim=1, keepdim=True)
        weights = torch.softmax(torch.where(any_present, scores, torch.zeros_like(scores)), dim=1)
        return torch.where(present, weights, torch.zeros_like(weights))


class AmmdnnNet(nn.Module):
    """Paths (one per block), attention-weighted concatenation, shared layers, one linear head per target.

    Args:
        in_features: Width of each block (d_m + 1 with the presence flag); one block = early fusion.
        n_targets: Heads.
        hidden: Width of the paths and of the first shared layer (the second has ``hidden // 2``).
        attention: Weight each path's output by its attention (else the outputs are concatenated unweighted);
            an absent path's output is zero either way.
        dropout: Dropout after the first layer of every path and of the shared layers.
    """

    def __init__(self, in_features: Sequence[int], n_targets: int, hidden: int, *, attention: bool = True,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.paths = nn.ModuleList(ModalityPath(d, hidden, dropout) for d in in_features)
        self.attention = PathAttention(hidden) if attention else None
        fused = hidden * len(in_features)
        self.shared = nn.Sequential(
            nn.Linear(fused, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, max(1, hidden // 2)), nn.ReLU(),
        )
        self.heads = nn.ModuleList(nn.Linear(max(1, hidden // 2), 1) for _ in range(n_targets))

    def forward(
        self, blocks: Sequence[torch.Tensor], present: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Targets (n, n_targets) and attention weights (n, n_paths) or None."""
        outputs = torch.stack([path(x) for path, x in zip(self.paths, blocks, strict=True)], dim=1)  # (n, M, h)
        if self.attention is not None:  # each path scaled by its weight (times M: weight 1 on average), side by side
            weights = self.attention(outputs, present)
            fused = (outputs * weights.unsqueeze(-1) * outputs.shape[1]).flatten(1)
        else:
            fused, weights = (outputs * present.unsqueeze(-1)).flatten(1), None
        shared = self.shared(fused)
        return torch.cat([head(shared) for head in self.heads], dim=1), weights


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Lin's CCC (population moments) of each column of (n, t) tensors, averaged over the columns."""
    mean_p, mean_t = pred.mean(dim=0), target.mean(dim=0)
    var_p = pred.var(dim=0, unbiased=False)
    var_t = target.var(dim=0, unbiased=False)
    cov = ((pred - mean_p) * (target - mean_t)).mean(dim=0)
    ccc = 2 * cov / (var_p + var_t + (mean_p - mean_t) ** 2 + 1e-8)
    return (1 - ccc).mean()
