"""Training schemes of the early-exit baselines, on the track's shared backbone and optimiser loop.

- :func:`train_two_stage`: the second stage of DeeBERT and ViT-EE: the backbone (its first stage, the track's
  shared training) is frozen and only the exit heads learn, each from its own cross-entropy.
- :func:`train_weighted`: PABEE's (and PCEE-BERT's) joint fine-tuning: backbone and every exit, the final
  classifier included, on the weighted average of the exits' cross-entropies, exit ``k`` weighted by its depth.

Heads train at the budget's ``head_learning_rate``, the backbone (when it trains) at ``finetune_learning_rate``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from harness.tracks.earlyexit.backbone import exit_tokens
from harness.tracks.earlyexit.method import EarlyExitMethod, exit_cross_entropy, weighted_exit_loss
from harness.tracks.earlyexit.prefix import ExitNet

__all__ = ["freeze", "train_two_stage", "train_weighted"]


def freeze(vit: nn.Module) -> None:
    """Stop every gradient into the backbone and put it in eval mode (the frozen first stage)."""
    vit.eval()
    vit.requires_grad_(requires_grad=False)


def train_two_stage(method: EarlyExitMethod, train: Any, vit: nn.Module, net: ExitNet, heads: nn.ModuleList) -> None:
    """Train ``heads`` (one per exit but the last) on the frozen backbone, the mean of their cross-entropies."""
    freeze(vit)
    heads.train()
    n_heads = len(heads)

    def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            tokens = exit_tokens(net, x)
        return sum(exit_cross_entropy(heads[k](tokens[k]), y) for k in range(n_heads)) / n_heads

    method.train([(heads.parameters(), method.budget_.head_learning_rate)], loss_fn, method.batches(train),
                 name="exit heads on the frozen backbone")


def train_weighted(
    method: EarlyExitMethod, train: Any, vit: nn.Module, net: ExitNet, heads: nn.ModuleList, depths: list[int]
) -> None:
    """Fine-tune backbone and exits jointly on ``sum_k depth_k CE_k / sum_k depth_k`` (PABEE)."""
    vit.train()
    heads.train()

    def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        tokens = exit_tokens(net, x)
        logits = [head(t) for head, t in zip(net.heads, tokens, strict=True)]
        return weighted_exit_loss(logits, y, depths)

    budget = method.budget_
    method.train([(heads.parameters(), budget.head_learning_rate), (vit.parameters(), budget.finetune_learning_rate)],
                 loss_fn, method.batches(train), name="backbone and exits, weighted loss")
