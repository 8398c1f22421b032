"""LGViT's heterogeneous exit heads (pure torch; no harness imports).

Every head reads the tokens a block outputs, float (n, n_prefix + h * w, dim) (class token first, then the patch
tokens of an ``h x w`` grid), turns the patch tokens into a feature sequence, averages it, adds the class token
and classifies: ``logits = linear(mean(features) + cls)`` (as ``DeiTHighway_v2`` of the public code,
``falcon-xu/LGViT``, ``models/deit_highway/highway.py``).

- Local perception heads (shallow exits), the patch tokens as a ``dim``-channel image:
  ``"local_dw"`` (the code's ``conv1_1``): 1x1 convolution, GELU, batch norm; 3x3 depthwise convolution, GELU,
  batch norm; 1x1 convolution, batch norm; plus the input (residual). ``"local_pw"`` (``conv2_1``): the same
  without the depthwise convolution.
- Global aggregation heads (deep exits), ``"global_sr2"`` and ``"global_sr3"`` (``attention_r2``, ``_r3``): the
  patch grid subsampled with stride 2 or 3 (``AvgPool2d(1, stride)``), then multi-head self-attention over the
  remaining tokens (qkv without bias, output projection).

:func:`head_kinds` lays the kinds out over the exits as the public code does: the first half of the exits local
(first ``local_dw`` then ``local_pw``), the second half global (first ``global_sr2`` then ``global_sr3``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["HEAD_KINDS", "GlobalAggregationHead", "LgvitHead", "LocalPerceptionHead", "head_kinds", "subsample"]

#: Every head kind, local ones first.
HEAD_KINDS = ("local_dw", "local_pw", "global_sr2", "global_sr3")
#: Which kinds each layout uses: (shallow half, deep half), each split again in two.
_LAYOUTS = {
    "mixed": (("local_dw", "local_pw"), ("global_sr2", "global_sr3")),
    "local": (("local_dw", "local_dw"), ("local_pw", "local_pw")),
    "global": (("global_sr2", "global_sr2"), ("global_sr3", "global_sr3")),
}


def head_kinds(n_exits: int, *, layout: str = "mixed") -> list[str]:
    """The kind of each exit head, shallow to deep.

    Args:
        n_exits: Exit heads (the backbone's own classifier not counted).
        layout: ``"mixed"`` (LGViT: local heads on the shallow half, global heads on the deep half),
            ``"local"`` (local heads everywhere: depthwise on the shallow half, pointwise on the deep half) or
            ``"global"`` (global heads everywhere: stride 2 on the shallow half, stride 3 on the deep half).

    Returns:
        One kind of :data:`HEAD_KINDS` per exit.

    Example:
        >>> head_kinds(8)
        ['local_dw', 'local_dw', 'local_pw', 'local_pw', 'global_sr2', 'global_sr2', 'global_sr3', 'global_sr3']
        >>> head_kinds(4, layout="global")
        ['global_sr2', 'global_sr2', 'global_sr3', 'global_sr3']
    """
    if layout not in _LAYOUTS:
        msg = f"layout of head_kinds must be one of {', '.join(_LAYOUTS)}; got {layout!r}."
        raise ValueError(msg)
    shallow, deep = _LAYOUTS[layout]
    n_shallow = n_exits // 2 if n_exits > 1 else 1
    kinds = []
    for half, n_half in ((shallow, n_shallow), (deep, n_exits - n_shallow)):
        first = math.ceil(n_half / 2)
        kinds += [half[0]] * first + [half[1]] * (n_half - first)
    return kinds


def subsample(tokens: torch.Tensor, stride: int) -> torch.Tensor:
    """Patch tokens (n, h * w, dim) of a square grid, every ``stride``-th row and column: (n, h' * w', dim)."""
    n, length, dim = tokens.shape
    side = math.isqrt(length)
    grid = tokens.transpose(1, 2).reshape(n, dim, side, side)
    return F.avg_pool2d(grid, kernel_size=1, stride=stride).flatten(2).transpose(1, 2)


def _to_grid(tokens: torch.Tensor) -> torch.Tensor:
    n, length, dim = tokens.shape
    side = math.isqrt(length)
    if side * side != length:
        msg = f"LGViT's heads need a square grid of patch tokens; got {length} patch tokens."
        raise ValueError(msg)
    return tokens.transpose(1, 2).reshape(n, dim, side, side)


class LocalPerceptionHead(nn.Module):
    """Convolutions over the patch grid with a residual: (n, h * w, dim) -> (n, h * w, dim)."""

    def __init__(self, dim: int, *, depthwise: bool) -> None:
        super().__init__()
        self.expand = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.GELU(), nn.BatchNorm2d(dim))
        self.depthwise = (
            nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1, groups=dim), nn.GELU(), nn.BatchNorm2d(dim))
            if depthwise else nn.Identity()
        )
        self.project = nn.Sequential(nn.Conv2d(dim, dim, 1), nn.BatchNorm2d(dim))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Local features of the patch tokens."""
        out = self.project(self.depthwise(self.expand(_to_grid(patches))))
        return out.flatten(2).transpose(1, 2) + patches


class GlobalAggregationHead(nn.Module):
    """Self-attention over the subsampled patch grid: (n, h * w, dim) -> (n, h' * w', dim)."""

    def __init__(self, dim: int, *, stride: int, n_heads: int) -> None:
        super().__init__()
        if dim % n_heads:
            msg = f"the global aggregation head splits the token width {dim} into {n_heads} heads; pick a divisor."
            raise ValueError(msg)
        self.stride = int(stride)
        self.n_heads = int(n_heads)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """Globally aggregated features of the subsampled patch tokens."""
        x = subsample(patches, self.stride) if self.stride > 1 else patches
        n, length, dim = x.shape
        q, k, v = self.qkv(x).reshape(n, length, 3, self.n_heads, dim // self.n_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class LgvitHead(nn.Module):
    """One LGViT exit: tokens (n, n_prefix + h * w, dim) -> logits (n, n_classes).

    Args:
        kind: One of :data:`HEAD_KINDS`.
        dim: Token width.
        n_classes: Classes.
        n_prefix: Tokens before the patch tokens (1: the class token).
        n_heads: Attention heads of a global head.

    Example:
        >>> head = LgvitHead("global_sr2", dim=16, n_classes=3, n_prefix=1, n_heads=4)
        >>> head(torch.zeros(2, 1 + 64, 16)).shape
        torch.Size([2, 3])
    """

    def __init__(self, kind: str, *, dim: int, n_classes: int, n_prefix: int, n_heads: int = 8) -> None:
        super().__init__()
        if kind not in HEAD_KINDS:
            msg = f"kind of LgvitHead must be one of {', '.join(HEAD_KINDS)}; got {kind!r}."
            raise ValueError(msg)
        self.kind = kind
        self.n_prefix = int(n_prefix)
        if kind.startswith("local"):
            self.mixer: nn.Module = LocalPerceptionHead(dim, depthwise=kind == "local_dw")
        else:
            self.mixer = GlobalAggregationHead(dim, stride=int(kind[-1]), n_heads=n_heads)
        self.classifier = nn.Linear(dim, n_classes)

    @property
    def stride(self) -> int:
        """Subsampling of the patch grid in the head's features (1 for a local head)."""
        return getattr(self.mixer, "stride", 1)

    def features_and_logits(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (n, h' * w', dim), logits (n, n_classes)); the features feed the self-distillation."""
        features = self.mixer(tokens[:, self.n_prefix :])
        return features, self.classifier(features.mean(dim=1) + tokens[:, 0])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits of the exit."""
        return self.features_and_logits(tokens)[1]
