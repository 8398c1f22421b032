"""LGViT on the early-exit track: heterogeneous exit heads, two training stages, confidence (or entropy) exits.

Exits sit after blocks ``round(depth / 3) .. depth - 1`` (the paper's 4..11 of ViT-B's 12 blocks, scaled: 2..5 of
the default 6-block backbone), with the backbone's own classifier as the last exit; their heads follow
:func:`~methods.lgvit.heads.head_kinds` (local perception on the shallow half, global aggregation on the deep
half). Stage 1 fine-tunes backbone and heads end to end on :func:`~methods.lgvit.losses.alternating_weighted_loss`;
stage 2 freezes the backbone and trains the heads on :func:`~methods.lgvit.losses.self_distillation_loss`, the
final classifier as teacher. Each stage runs the budget's ``head_steps``. See ``README.md`` for the departures
from the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from harness.options import option
from harness.tracks.earlyexit.backbone import exit_tokens, make_exit_net
from harness.tracks.earlyexit.method import EarlyExitMethod, exit_cross_entropy
from harness.tracks.earlyexit.prefix import ExitNet
from methods.lgvit.heads import LgvitHead, head_kinds, subsample
from methods.lgvit.losses import alternating_weighted_loss, self_distillation_loss

__all__ = ["Lgvit", "exit_positions"]


def exit_positions(depth: int) -> list[int]:
    """Blocks (1-based) after which LGViT's exit heads sit: ``round(depth / 3) .. depth - 1``.

    Example:
        >>> exit_positions(12), exit_positions(6)
        ([4, 5, 6, 7, 8, 9, 10, 11], [2, 3, 4, 5])
    """
    first = max(1, round(depth / 3))
    return list(range(first, depth)) or [1]


class Lgvit(EarlyExitMethod):
    """LGViT: local perception and global aggregation exit heads, end-to-end then self-distillation training."""

    name = "lgvit"
    kind = "method"
    paper = "Xu et al., ACM MM 2023, arXiv:2308.00255 (LGViT: dynamic early exiting for accelerating ViTs)"

    @dataclass(frozen=True)
    class Config:
        """Options of LGViT and its ablations."""

        heads: str = option("mixed", "Exit heads: mixed (local on the shallow half, global on the deep half), local "
                            "(local everywhere) or global (global everywhere).", choices=("mixed", "local", "global"))
        distillation: bool = option(True, "Run stage 2, the self-distillation with the backbone frozen.")
        rule: str = option("confidence", "Exit rule at inference (the paper's scripts: confidence).",
                           choices=("confidence", "entropy"))
        alpha: float = option(0.3, "Weight of the teacher's soft targets against the labels in stage 2.", ge=0, le=1)
        temperature: float = option(2.0, "Temperature of the prediction distillation.", gt=0)
        beta_hete: float = option(0.01, "Weight of the heterogeneous feature distillation.", ge=0)
        beta_homo: float = option(0.01, "Weight of the homogeneous feature distillation.", ge=0)
        attention_heads: int = option(8, "Attention heads of a global aggregation head (divides the token width).",
                                      ge=1)

    @property
    def rule(self) -> str:  # type: ignore[override]
        """The configured exit rule."""
        return self.config.rule

    def fit_exits(self, train: Any) -> tuple[ExitNet, list[int]]:
        """Build the heads, run stage 1 (end to end) and, unless ablated, stage 2 (self-distillation)."""
        cfg = self.config
        vit = self.new_backbone(train)
        depth = len(vit.blocks)
        positions = exit_positions(depth)
        kinds = head_kinds(len(positions), layout=cfg.heads)
        heads = nn.ModuleList([
            LgvitHead(kind, dim=vit.embed_dim, n_classes=train.n_classes, n_prefix=vit.num_prefix_tokens,
                      n_heads=cfg.attention_heads)
            for kind in kinds
        ]).to(self.device_)
        depths = [*positions, depth]
        net = make_exit_net(vit, list(heads), depths)
        self.log_.info("LGViT exits after blocks %s: %s", positions, kinds)
        self._stage_one(train, vit, net, heads, depths)
        if cfg.distillation:
            self._stage_two(train, vit, net, heads, kinds)
        return net, depths

    def _stage_one(self, train: Any, vit: nn.Module, net: ExitNet, heads: nn.ModuleList, depths: list[int]) -> None:
        vit.train()
        heads.train()

        def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            tokens = exit_tokens(net, x)
            final = exit_cross_entropy(net.heads[-1](tokens[-1]), y)
            if step % 2 == 0:
                return final
            exit_losses = [exit_cross_entropy(head(t), y) for head, t in zip(heads, tokens, strict=False)]
            return alternating_weighted_loss(step, exit_losses, final, depths[:-1], depths[-1])

        budget = self.budget_
        self.train([(heads.parameters(), budget.head_learning_rate), (vit.parameters(), budget.finetune_learning_rate)],
                   loss_fn, self.batches(train, stream=1), name="LGViT stage 1 (end to end, alternating weighted)")

    def _stage_two(self, train: Any, vit: nn.Module, net: ExitNet, heads: nn.ModuleList, kinds: list[str]) -> None:
        cfg = self.config
        vit.eval()
        vit.requires_grad_(requires_grad=False)
        heads.train()
        strides = [head.stride for head in heads]

        def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                tokens = exit_tokens(net, x)
                teacher = net.heads[-1](tokens[-1])
            outputs = [head.features_and_logits(t) for head, t in zip(heads, tokens, strict=False)]
            return self_distillation_loss(
                kinds, [f for f, _ in outputs], [z for _, z in outputs], teacher, tokens[-1][:, vit.num_prefix_tokens:],
                y, cross_entropy=exit_cross_entropy, subsample=subsample, strides=strides, alpha=cfg.alpha,
                temperature=cfg.temperature, beta_hete=cfg.beta_hete, beta_homo=cfg.beta_homo,
            )

        self.train([(heads.parameters(), self.budget_.head_learning_rate)], loss_fn, self.batches(train, stream=2),
                   name="LGViT stage 2 (self-distillation, backbone frozen)")
