"""A learned exit policy in the style of BERxiT (Xin et al., EACL 2021): learning to exit.

Every block but the last gets a linear exit and BERxiT's learning-to-exit (LTE) module, one linear unit and a
sigmoid shared by all exits, that reads the same normalised class token and estimates the probability that the
exit's prediction is right (:class:`~baselines.earlyexit.heads.PolicyHead`). A sample leaves at the first exit
whose estimate exceeds the threshold (rule ``policy``; the track sweeps the threshold and recomputes the exits from
the returned scores).

Training (``training="alternating"``, BERxiT's): backbone and exits are fine-tuned together, alternating between
steps on the final classifier's cross-entropy alone and steps on the sum of every exit's cross-entropy plus the
LTE loss, the squared error between each exit's estimate and whether its argmax is the label (0 or 1).
``training="two_stage"`` trains heads and LTE on the frozen backbone instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from baselines.earlyexit._training import freeze
from baselines.earlyexit.heads import PolicyHead
from harness.options import option
from harness.tracks.earlyexit.backbone import exit_tokens, make_exit_net
from harness.tracks.earlyexit.method import EarlyExitMethod, exit_cross_entropy
from harness.tracks.earlyexit.prefix import ExitNet

__all__ = ["LearnedPolicy", "lte_loss"]


def lte_loss(logits: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BERxiT's LTE loss of one exit: mean squared error between the score (n,) and the argmax being right (n,)."""
    target = (logits.detach().argmax(dim=1) == labels).float()
    return F.mse_loss(scores, target)


class LearnedPolicy(EarlyExitMethod):
    """Linear exits and a shared learning-to-exit unit; leave where the estimated chance of being right is high."""

    name = "berxit"
    kind = "baseline"
    paper = "Xin et al., EACL 2021 (BERxiT: early exiting for BERT with better fine-tuning and extension to regression)"
    rule = "policy"

    @dataclass(frozen=True)
    class Config:
        """Options of the learned exit policy."""

        training: str = option("alternating", "alternating: BERxiT's joint fine-tuning, final loss and exit + LTE "
                               "losses in turn; two_stage: heads and LTE on the frozen backbone.",
                               choices=("alternating", "two_stage"))

    def fit_exits(self, train: Any) -> tuple[ExitNet, list[int]]:
        """Policy heads after every block but the last, trained as configured."""
        vit = self.new_backbone(train)
        depths = list(range(1, len(vit.blocks) + 1))
        lte = nn.Linear(vit.embed_dim, 1)
        heads = nn.ModuleList([PolicyHead(vit.embed_dim, train.n_classes, lte) for _ in depths[:-1]]).to(self.device_)
        net = make_exit_net(vit, list(heads), depths)
        alternating = self.config.training == "alternating"
        if alternating:
            vit.train()
        else:
            freeze(vit)
        heads.train()

        def loss_fn(step: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if alternating and step % 2 == 0:
                return exit_cross_entropy(net.heads[-1](exit_tokens(net, x)[-1]), y)
            with torch.set_grad_enabled(alternating):
                tokens = exit_tokens(net, x)
            loss = exit_cross_entropy(net.heads[-1](tokens[-1]), y) if alternating else 0.0
            for head, t in zip(heads, tokens, strict=False):
                logits, scores = head(t)
                loss = loss + exit_cross_entropy(logits, y) + lte_loss(logits, scores, y)
            return loss

        budget = self.budget_
        groups = [(heads.parameters(), budget.head_learning_rate)]
        if alternating:
            groups.append((vit.parameters(), budget.finetune_learning_rate))
        self.train(groups, loss_fn, self.batches(train), name=f"policy exits ({self.config.training})")
        return net, depths
