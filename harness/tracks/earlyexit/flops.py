"""FLOPs per image of every prefix of a multi-exit backbone, counted with ``torch.utils.flop_counter``.

:func:`count_flops` runs a callable once under :class:`torch.utils.flop_counter.FlopCounterMode` and returns
its total. What is counted is PyTorch's rule: matrix products, convolutions and attention, at 2 FLOPs per
multiply-add (a linear layer of ``d_in x d_out`` on ``n`` rows counts ``2 n d_in d_out``); element-wise
operations (softmax, GELU, layer norm, additions) count 0. On the CPU,
``torch.nn.functional.scaled_dot_product_attention`` dispatches to a fused kernel that the counter does not
know (torch 2.x), which would drop the attention products; counting therefore runs with the math backend of
``torch.nn.attention.sdpa_kernel``, where attention is two batched matrix products (``4 n T^2 d`` per layer
for ``T`` tokens of width ``d``). Counting runs under ``torch.no_grad``.

:func:`exit_flops` counts each piece of an :class:`~harness.tracks.earlyexit.prefix.ExitNet` once (stem,
every stage, every head) and returns per-image counts, from which :class:`ExitFlops` assembles every prefix:
FLOPs are additive over the pieces, which ``tests/tracks/earlyexit/test_flops.py`` checks against counting the
whole prefix at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from harness.tracks.earlyexit.prefix import ExitNet

__all__ = ["ExitFlops", "count_flops", "exit_flops"]


def count_flops(fn: Callable[[], Any]) -> int:
    """Total FLOPs of one call of ``fn`` (no arguments), as ``FlopCounterMode`` counts them.

    Example:
        >>> layer = torch.nn.Linear(4, 3, bias=False)
        >>> count_flops(lambda: layer(torch.zeros(5, 4)))
        120
    """
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class ExitFlops:
    """FLOPs per image of each piece of a multi-exit backbone, and of every prefix.

    Attributes:
        stem: FLOPs per image of the stem.
        stages: float64 array of shape (n_exits,), FLOPs per image of each stage.
        heads: float64 array of shape (n_exits,), FLOPs per image of each head.
    """

    stem: float
    stages: np.ndarray
    heads: np.ndarray

    @property
    def backbone(self) -> np.ndarray:
        """float64 array of shape (n_exits,): stem and stages up to each exit, no head."""
        return self.stem + np.cumsum(self.stages)

    @property
    def single_exit(self) -> np.ndarray:
        """float64 array of shape (n_exits,): the backbone up to exit ``k`` plus head ``k`` (the model prefix)."""
        return self.backbone + self.heads

    @property
    def to_exit(self) -> np.ndarray:
        """float64 array of shape (n_exits,): the backbone up to exit ``k`` plus every head ``0..k`` on the way."""
        return self.backbone + np.cumsum(self.heads)

    @property
    def full(self) -> float:
        """FLOPs per image of the full model: the whole backbone and its classifier, no intermediate head."""
        return float(self.single_exit[-1])


def exit_flops(net: ExitNet, images: torch.Tensor) -> ExitFlops:
    """Count the FLOPs per image of every piece of ``net`` on ``images``.

    Args:
        net: The model in pieces.
        images: float tensor of shape (n_images, 3, H, W), already preprocessed; one image is enough for a
            ViT (its FLOPs do not depend on the pixel values), more only averages.

    Returns:
        The counts divided by ``n_images``.

    Example:
        >>> from torch import nn
        >>> net = ExitNet(nn.Flatten(), [nn.Linear(12, 12), nn.Linear(12, 12)], [nn.Linear(12, 2)] * 2)
        >>> exit_flops(net, torch.zeros(1, 3, 2, 2)).single_exit.tolist()
        [336.0, 624.0]
    """
    n_images = int(images.shape[0])
    if n_images < 1:
        msg = f"images of exit_flops must hold at least one image; got shape {tuple(images.shape)}."
        raise ValueError(msg)
    outputs: dict[str, Any] = {}

    def _stem() -> None:
        outputs["tokens"] = net.stem(images)

    stem = count_flops(_stem)
    stages, heads = [], []
    for k in range(net.n_exits):

        def _stage(k: int = k) -> None:
            outputs["tokens"] = net.stages[k](outputs["tokens"])

        stages.append(count_flops(_stage))
        heads.append(count_flops(lambda k=k: net.heads[k](outputs["tokens"])))
    return ExitFlops(
        stem=stem / n_images,
        stages=np.asarray(stages, dtype=np.float64) / n_images,
        heads=np.asarray(heads, dtype=np.float64) / n_images,
    )
