"""A backbone cut at its exits, and the prefixes of it that a sample leaving at one exit runs.

The harness measures the cost of early exiting on the model itself (FLOPs in :mod:`.flops`, wall-clock time
in :mod:`.timing`), so it needs the model in pieces: an :class:`ExitNet` holds a ``stem`` (images to tokens:
patch embedding, class token, position embedding), one ``stage`` per exit (the transformer blocks between the
previous exit and this one) and one ``head`` per exit (tokens to logits; LGViT's heads, a learned exit policy
or a plain linear classifier: whatever the method evaluates there). The last exit sits at the end of the
backbone and its head is the model's own classifier (final norm, pooling, linear layer).

Three prefixes (all take a float tensor of shape (n_images, 3, H, W) and return the logits of the exit,
float tensor of shape (n_images, n_classes)):

- :func:`forward_to_exit`: stem, stages ``0..k`` and every head ``0..k`` on the way: what a sample leaving at
  exit ``k`` costs under a rule that reads every exit (confidence, entropy, patience).
- :func:`forward_single_exit`: stem, stages ``0..k`` and head ``k`` only: static truncation at exit ``k``.
- :func:`forward_full`: the full backbone and its classifier, no intermediate head: the baseline every
  speed-up is measured against (``forward_single_exit`` at the last exit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ExitNet", "forward_full", "forward_single_exit", "forward_to_exit"]


@dataclass(frozen=True)
class ExitNet:
    """A multi-exit backbone in pieces.

    Attributes:
        stem: Module mapping images, float tensor (n_images, 3, H, W), to tokens (n_images, n_tokens, dim).
        stages: One module per exit; stage ``k`` maps the tokens at exit ``k - 1`` (the stem's output for
            ``k = 0``) to the tokens at exit ``k``.
        heads: One module per exit; head ``k`` maps the tokens at exit ``k`` to logits (n_images, n_classes).
    """

    stem: nn.Module
    stages: Sequence[nn.Module]
    heads: Sequence[nn.Module]

    def __post_init__(self) -> None:
        if len(self.stages) != len(self.heads) or not self.stages:
            msg = (
                f"ExitNet needs one stage and one head per exit (at least one exit); got {len(self.stages)} stages "
                f"and {len(self.heads)} heads."
            )
            raise ValueError(msg)

    @property
    def n_exits(self) -> int:
        """Number of exits, the last one at the end of the backbone."""
        return len(self.stages)

    def modules(self) -> list[nn.Module]:
        """Every module of the net: stem, stages, heads."""
        return [self.stem, *self.stages, *self.heads]

    def check_exit(self, exit_index: int) -> int:
        """Return ``exit_index`` as an int after checking that it is in ``[0, n_exits)``."""
        if isinstance(exit_index, bool) or not 0 <= int(exit_index) < self.n_exits or int(exit_index) != exit_index:
            msg = f"exit of an ExitNet with {self.n_exits} exits must be in 0..{self.n_exits - 1}; got {exit_index!r}."
            raise ValueError(msg)
        return int(exit_index)


def forward_to_exit(net: ExitNet, images: torch.Tensor, exit_index: int) -> torch.Tensor:
    """Run the stem, stages ``0..exit_index`` and every head up to ``exit_index``; return the last head's logits.

    Example:
        >>> net = ExitNet(nn.Flatten(), [nn.Identity(), nn.Identity()], [nn.Linear(12, 2), nn.Linear(12, 2)])
        >>> forward_to_exit(net, torch.zeros(5, 3, 2, 2), 1).shape
        torch.Size([5, 2])
    """
    last = net.check_exit(exit_index)
    tokens = net.stem(images)
    logits = None
    for k in range(last + 1):
        tokens = net.stages[k](tokens)
        logits = net.heads[k](tokens)
    return logits


def forward_single_exit(net: ExitNet, images: torch.Tensor, exit_index: int) -> torch.Tensor:
    """Run the stem, stages ``0..exit_index`` and head ``exit_index`` only; return its logits.

    Example:
        >>> net = ExitNet(nn.Flatten(), [nn.Identity(), nn.Identity()], [nn.Linear(12, 2), nn.Linear(12, 3)])
        >>> forward_single_exit(net, torch.zeros(5, 3, 2, 2), 0).shape
        torch.Size([5, 2])
    """
    last = net.check_exit(exit_index)
    tokens = net.stem(images)
    for k in range(last + 1):
        tokens = net.stages[k](tokens)
    return net.heads[last](tokens)


def forward_full(net: ExitNet, images: torch.Tensor) -> torch.Tensor:
    """Run the full backbone and its own classifier (the last head), without intermediate heads.

    Example:
        >>> net = ExitNet(nn.Flatten(), [nn.Identity()], [nn.Linear(12, 2)])
        >>> forward_full(net, torch.zeros(5, 3, 2, 2)).shape
        torch.Size([5, 2])
    """
    return forward_single_exit(net, images, net.n_exits - 1)
