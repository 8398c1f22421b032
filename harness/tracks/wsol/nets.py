"""Networks and training loops every WSOL method of this track shares: one backbone, one classifier recipe.

The budget fixes the backbone (a timm model cut at ``feature_layer``), the image size, the epochs, the batch
size and the optimiser (AdamW, cosine decay), so a method differs from another by what it does with them, not
by a better-tuned network. Random init by default (:func:`harness.backbones.load_backbone_weights`: the same
network for every method of a seed), or the budget's local checkpoint for all alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.vision import MEAN, STD, FeatureBackbone, batches, build_backbone, cosine_lr, to_tensor

__all__ = [
    "MEAN",
    "STD",
    "CamClassifier",
    "FeatureBackbone",
    "batches",
    "build_backbone",
    "class_scores_and_cams",
    "cosine_lr",
    "hide_patches",
    "to_tensor",
    "train_classifier",
]


class CamClassifier(nn.Module):
    """Backbone + global average pooling + linear layer: the CAM architecture (Zhou et al., CVPR 2016).

    The class activation map of class c is ``sum_k w_ck f_k(x, y)`` over the feature map, the linear layer's
    weights applied at every location.
    """

    def __init__(self, backbone: FeatureBackbone, n_classes: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.out_channels, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logits (n, n_classes), features (n, C, h, w))."""
        features = self.backbone(x)
        return self.fc(features.mean(dim=(2, 3))), features

    def cams(self, features: torch.Tensor) -> torch.Tensor:
        """Class activation maps of every class: (n, n_classes, h, w)."""
        return torch.einsum("kc,nchw->nkhw", self.fc.weight, features) + self.fc.bias.view(1, -1, 1, 1)


def augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Horizontal flip of half the batch (boxes are not involved: classifier training only)."""
    flip = rng.random(len(images)) < 0.5
    out = images.copy()
    out[flip] = out[flip, :, ::-1]
    return out


def hide_patches(images: np.ndarray, rng: np.random.Generator, *, grid: int, probability: float) -> np.ndarray:
    """Hide-and-Seek (Singh and Lee, ICCV 2017): blank each cell of a ``grid`` x ``grid`` split with ``probability``.

    Hidden cells take the dataset's mean colour (the paper's choice, so the input statistics stay the same).

    Args:
        images: uint8 array of shape (n, S, S, 3).
        rng: The generator of the job.
        grid: Cells per side.
        probability: Chance of each cell to be hidden.

    Returns:
        A new uint8 array of the same shape.
    """
    out = images.copy()
    size = images.shape[1]
    edges = np.linspace(0, size, grid + 1).round().astype(int)
    mean = np.round(np.array(MEAN) * 255).astype(np.uint8)
    hidden = rng.random((len(images), grid, grid)) < probability
    for i, row, col in zip(*np.nonzero(hidden), strict=True):
        out[i, edges[row] : edges[row + 1], edges[col] : edges[col + 1]] = mean
    return out


def train_classifier(
    model: CamClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    budget: Any,
    *,
    seed: int,
    device: torch.device,
    log: Any = None,
    transform: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> list[float]:
    """Train ``model`` on image labels for ``budget.classifier_epochs`` epochs (AdamW, cosine decay, flips).

    Args:
        model: The classifier, on ``device``.
        images: uint8 array of shape (n, S, S, 3).
        labels: int64 array of shape (n,).
        budget: The track's budget (``classifier_epochs``, ``batch_size``, ``learning_rate``).
        seed: Seed of the batch order and the augmentation.
        device: Where to train.
        log: Logger of the job (one line per epoch), or None.
        transform: Extra augmentation applied after the flip (e.g. :func:`hide_patches`).

    Returns:
        Mean training loss of every epoch.
    """
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=budget.learning_rate, weight_decay=1e-4)
    n_steps = budget.classifier_epochs * math.ceil(len(images) / budget.batch_size)
    target = torch.from_numpy(np.array(labels, dtype=np.int64)).to(device)
    losses, step = [], 0
    model.train()
    for epoch in range(budget.classifier_epochs):
        total, count = 0.0, 0
        for rows in batches(len(images), budget.batch_size, rng):
            batch = augment(images[rows], rng)
            if transform is not None:
                batch = transform(batch, rng)
            cosine_lr(optimizer, budget.learning_rate, step, n_steps, warmup=min(50, n_steps // 10))
            logits, _ = model(to_tensor(batch, device))
            loss = F.cross_entropy(logits, target[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count, step = total + float(loss.detach()) * len(rows), count + len(rows), step + 1
        losses.append(total / count)
        if log is not None:
            log.info("classifier epoch %d/%d: loss %.4f", epoch + 1, budget.classifier_epochs, losses[-1])
    model.eval()
    return losses


@torch.no_grad()
def class_scores_and_cams(
    model: CamClassifier, images: np.ndarray, batch_size: int, device: torch.device, *, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits, the CAM of the top-1 class (or of ``labels`` when given) and the features of every image.

    Returns:
        (logits float32 (n, n_classes), cams float32 (n, h, w), features float32 (n, C, h, w)).
    """
    model.eval()
    logits_out, cams_out, features_out = [], [], []
    for rows in batches(len(images), batch_size):
        logits, features = model(to_tensor(images[rows], device))
        cams = model.cams(features)
        chosen = logits.argmax(dim=1) if labels is None else torch.from_numpy(labels[rows]).to(device)
        cams_out.append(cams[torch.arange(len(rows), device=device), chosen].float().cpu())
        logits_out.append(logits.float().cpu())
        features_out.append(features.float().cpu())
    return torch.cat(logits_out).numpy(), torch.cat(cams_out).numpy(), torch.cat(features_out).numpy()
