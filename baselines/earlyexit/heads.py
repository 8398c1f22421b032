"""Exit heads of the early-exit baselines (pure torch; no harness imports).

- :class:`LinearHead`: layer norm and one linear layer on the class token of a block's output, the off-ramp of
  DeeBERT and of the linear exits in LGViT's baseline code (which adds a tanh pooler; see the README).
- :class:`PolicyHead`: a :class:`LinearHead` and BERxiT's learning-to-exit (LTE) module, one linear unit with a
  sigmoid shared by every exit, on the same normalised class token: it returns the logits and the estimated
  probability that the exit's prediction is right.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LinearHead", "PolicyHead"]


class LinearHead(nn.Module):
    """Tokens (n, n_tokens, dim) -> logits (n, n_classes) from the class token (token 0).

    Example:
        >>> LinearHead(8, 3)(torch.zeros(2, 5, 8)).shape
        torch.Size([2, 3])
    """

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.classifier = nn.Linear(dim, n_classes)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The normalised class token: float (n, dim)."""
        return self.norm(tokens[:, 0])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of the exit."""
        return self.classifier(self.features(tokens))


class PolicyHead(nn.Module):
    """A linear exit with a learned exit score: tokens -> (logits (n, n_classes), score (n,) in (0, 1)).

    Args:
        dim: Token width.
        n_classes: Classes.
        lte: The learning-to-exit unit, ``nn.Linear(dim, 1)``, shared by every exit (BERxiT).

    Example:
        >>> logits, score = PolicyHead(8, 3, nn.Linear(8, 1))(torch.zeros(2, 5, 8))
        >>> logits.shape, score.shape
        (torch.Size([2, 3]), torch.Size([2]))
    """

    def __init__(self, dim: int, n_classes: int, lte: nn.Linear) -> None:
        super().__init__()
        self.head = LinearHead(dim, n_classes)
        self.lte = lte

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and the estimated probability that their argmax is right."""
        features = self.head.features(tokens)
        return self.head.classifier(features), torch.sigmoid(self.lte(features)).squeeze(-1)
