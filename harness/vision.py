"""Vision parts the image tracks share: normalisation, a timm backbone cut at one stage, batches, LR schedule.

Random init by default (:func:`harness.backbones.load_backbone_weights`: the same network for every method of a
seed), or the budget's local checkpoint for all alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

__all__ = ["MEAN", "STD", "FeatureBackbone", "batches", "build_backbone", "cosine_lr", "to_tensor"]

#: ImageNet channel statistics; inputs are normalised with them (also at random init, for a checkpoint's sake).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def to_tensor(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (n, H, W, 3) RGB -> normalised float32 tensor (n, 3, H, W) on ``device``."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class FeatureBackbone(nn.Module):
    """A timm network cut at one stage: (n, 3, S, S) -> (n, C, S/stride, S/stride).

    Attributes:
        out_channels: C, the channels of the feature map (torchvision's detectors read this attribute).
        stride: Reduction of the feature map against the input.
    """

    def __init__(self, net: nn.Module, out_channels: int, stride: int) -> None:
        super().__init__()
        self.net = net
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the feature map (n, C, h, w) of the cut stage."""
        return self.net(x)[-1]


def build_backbone(name: str, layer: str, *, weights: str = "random", seed: int = 0) -> FeatureBackbone:
    """The budget's backbone up to ``layer``, at the shared random init of ``seed`` or from a local checkpoint.

    Raises:
        ValueError: ``layer`` is not a feature stage of ``name``.
        FileNotFoundError: The checkpoint does not exist.
        harness.backbones.WeightsError: The checkpoint does not fit the backbone.
    """
    import timm

    from harness.backbones import is_random, load_backbone_weights

    probe = timm.create_model(name, pretrained=False, features_only=True)
    stages = list(probe.feature_info.module_name())
    if layer not in stages:
        msg = f"feature_layer of the budget must be a stage of backbone {name!r}, one of {stages}; got {layer!r}."
        raise ValueError(msg)
    index = stages.index(layer)
    net = timm.create_model(name, pretrained=False, features_only=True, out_indices=(index,))
    load_backbone_weights(net, None if is_random(weights) else weights, backbone=name, seed=seed)
    info = net.feature_info
    return FeatureBackbone(net, int(info.channels()[-1]), int(info.reduction()[-1]))


def batches(n_items: int, batch_size: int, generator: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Row indices of consecutive batches; shuffled by ``generator`` when given."""
    order = generator.permutation(n_items) if generator is not None else np.arange(n_items)
    for start in range(0, n_items, batch_size):
        yield order[start : start + batch_size]


def cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, step: int, n_steps: int, warmup: int = 0) -> None:
    """Set the learning rate of ``step`` of ``n_steps``: linear warm-up then cosine decay to 0."""
    if step < warmup:
        lr = base_lr * (step + 1) / warmup
    else:
        progress = (step - warmup) / max(1, n_steps - warmup)
        lr = 0.5 * base_lr * (1 + math.cos(math.pi * progress))
    for group in optimizer.param_groups:
        group["lr"] = lr

