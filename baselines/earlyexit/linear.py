"""Linear exits after every block: ViT-EE / DeeBERT (confidence or entropy), PABEE, PCEE, static truncation.

All of them put a :class:`~baselines.earlyexit.heads.LinearHead` after every transformer block but the last (the
backbone's own classifier is the last exit) and differ in how the exits are trained and when a sample leaves:

============================  ==========================================  ======================================
method                        training                                    exit rule
============================  ==========================================  ======================================
:class:`LinearExits`          two-stage (frozen backbone), DeeBERT        confidence > t, or entropy < t
:class:`Pabee`                joint, depth-weighted loss (PABEE)          t consecutive exits agree
:class:`Pcee`                 joint, depth-weighted loss (as PABEE)       ``patience`` consecutive entropies < t
:class:`StaticTruncation`     two-stage (frozen backbone)                 every sample at exit t: one point per
                                                                          depth, paying its own head only
============================  ==========================================  ======================================

The track sweeps ``t`` over its grid for the rule (:mod:`harness.tracks.earlyexit.grids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from baselines.earlyexit._training import train_two_stage, train_weighted
from baselines.earlyexit.heads import LinearHead
from harness.options import option
from harness.tracks.earlyexit.backbone import make_exit_net
from harness.tracks.earlyexit.method import EarlyExitMethod
from harness.tracks.earlyexit.prefix import ExitNet

__all__ = ["LinearExits", "Pabee", "Pcee", "StaticTruncation"]


def _linear_exits(method: EarlyExitMethod, train: Any) -> tuple[nn.Module, ExitNet, nn.ModuleList, list[int]]:
    """(backbone, model, heads, depths) with a linear head after every block but the last."""
    vit = method.new_backbone(train)
    depths = list(range(1, len(vit.blocks) + 1))
    heads = nn.ModuleList([LinearHead(vit.embed_dim, train.n_classes) for _ in depths[:-1]]).to(method.device_)
    return vit, make_exit_net(vit, list(heads), depths), heads, depths


class LinearExits(EarlyExitMethod):
    """Linear exits after every block on the frozen backbone, leaving on confidence or entropy (ViT-EE, DeeBERT)."""

    name = "ee-linear"
    kind = "baseline"
    paper = "Xin et al., ACL 2020 (DeeBERT); Bakhtiarnia et al., 2021 (ViT-EE, early exits in vision transformers)"

    @dataclass(frozen=True)
    class Config:
        """Options of the linear exits."""

        rule: str = option("confidence", "Exit rule: max softmax probability above, or entropy below, a threshold.",
                           choices=("confidence", "entropy"))
        training: str = option("two_stage", "two_stage: heads on the frozen backbone (DeeBERT); weighted: joint "
                               "fine-tuning on the depth-weighted loss (PABEE).", choices=("two_stage", "weighted"))

    @property
    def rule(self) -> str:  # type: ignore[override]
        """The configured exit rule."""
        return self.config.rule

    def fit_exits(self, train: Any) -> tuple[ExitNet, list[int]]:
        """Linear heads after every block, trained as configured."""
        vit, net, heads, depths = _linear_exits(self, train)
        if self.config.training == "two_stage":
            train_two_stage(self, train, vit, net, heads)
        else:
            train_weighted(self, train, vit, net, heads, depths)
        return net, depths


class Pabee(LinearExits):
    """PABEE: linear exits trained jointly on the depth-weighted loss; a sample leaves once t exits agree."""

    name = "pabee"
    paper = "Zhou et al., NeurIPS 2020 (BERT Loses Patience: PABEE)"
    rule = "patience"

    @dataclass(frozen=True)
    class Config:
        """Options of PABEE."""

        training: str = option("weighted", "weighted: joint fine-tuning on the depth-weighted loss (the paper's); "
                               "two_stage: heads on the frozen backbone.", choices=("two_stage", "weighted"))


class Pcee(LinearExits):
    """PCEE-BERT: PABEE's exits; a sample leaves once ``patience`` consecutive exits have entropy below t."""

    name = "pcee"
    paper = "Zhang et al., NAACL 2022 Findings (PCEE-BERT: patient and confident early exiting)"
    rule = "patience_confidence"

    @dataclass(frozen=True)
    class Config:
        """Options of PCEE."""

        patience: int = option(2, "Consecutive confident exits before leaving (LGViT's code uses 2).", ge=1)
        training: str = option("weighted", "weighted: joint fine-tuning on the depth-weighted loss (PABEE's); "
                               "two_stage: heads on the frozen backbone.", choices=("two_stage", "weighted"))


class StaticTruncation(EarlyExitMethod):
    """The backbone truncated after block k with its own head, for every k: the static lower envelope."""

    name = "static-truncation"
    kind = "baseline"
    paper = "static baseline: a backbone cut after k blocks with a head of its own (no dynamic exiting)"
    rule = "static"
    cost_path = "single_exit"

    @dataclass(frozen=True)
    class Config:
        """No options: heads on the frozen backbone, one operating point per depth."""

    def fit_exits(self, train: Any) -> tuple[ExitNet, list[int]]:
        """One linear head per depth on the frozen backbone (the full depth keeps the backbone's classifier)."""
        vit, net, heads, depths = _linear_exits(self, train)
        train_two_stage(self, train, vit, net, heads)
        return net, depths
