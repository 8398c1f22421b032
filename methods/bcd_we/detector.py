"""The binary-class detector (BCD): torchvision's FCOS with one foreground class, and the weighted-entropy loss.

FCOS (Tian et al., ICCV 2019) is anchor-free: every location of the feature map predicts foreground against
background, a box and a centerness. Here it runs on the budget's backbone at one level (its stride), so the
size ranges of FCOS's pyramid do not apply: every location may take any object size. torchvision's
``FCOS`` and ``FCOSHead`` do the assignment, the losses and the post-processing (score, top-k, NMS).

The weighted-entropy (WE) loss of an image without trusted pseudo boxes: with ``p_j`` the foreground probability
of location ``j`` and ``H_j = -p_j log p_j - (1 - p_j) log(1 - p_j)`` its binary entropy,
``WE = sum_j w_j H_j / sum_j w_j`` with ``w_j = max(p_j, 1 - p_j)`` held constant (no gradient): locations the
detector already leans on are pushed to a decision, uncertain ones count less, so the unlabelled images
sharpen the detector without imposing a (possibly wrong) box on them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from harness.tracks.wsol import nets

__all__ = ["FOREGROUND", "build_detector", "detect", "train_detector", "weighted_entropy"]

#: Label (and logit column) of the foreground class: the head has one sigmoid output, background is its absence.
#: (A second, never-trained column would leak boxes into the post-processing, which scores every column.)
FOREGROUND = 0


def build_detector(backbone: nets.FeatureBackbone, image_size: int, *, max_boxes: int, head_convs: int = 2,
                   nms_iou: float = 0.5) -> nn.Module:
    """FCOS with a foreground class on ``backbone`` (one feature level), for ``image_size`` square inputs.

    Args:
        backbone: The budget's backbone (``out_channels`` and ``stride`` set).
        image_size: Side of the inputs; the detector's transform keeps it (no resize).
        max_boxes: Detections kept per image after NMS.
        head_convs: Convolutions of each head branch (4 in FCOS; 2 keeps the CPU budget).
        nms_iou: IoU of the non-maximum suppression.
    """
    from torchvision.models.detection import FCOS
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.fcos import FCOSHead

    anchors = AnchorGenerator(sizes=((backbone.stride,),), aspect_ratios=((1.0,),))
    head = FCOSHead(backbone.out_channels, 1, 1, num_convs=head_convs)
    return FCOS(
        backbone, num_classes=1, min_size=image_size, max_size=image_size, image_mean=list(nets.MEAN),
        image_std=list(nets.STD), anchor_generator=anchors, head=head, score_thresh=0.0, nms_thresh=nms_iou,
        detections_per_img=max_boxes, topk_candidates=100,
    )


def _as_list(images: np.ndarray, device: torch.device) -> list[torch.Tensor]:
    """uint8 (n, S, S, 3) -> list of float (3, S, S) tensors in [0, 1] (the detector normalises them)."""
    batch = torch.from_numpy(np.ascontiguousarray(images)).to(device).permute(0, 3, 1, 2).float() / 255.0
    return list(batch)


def _head(model: nn.Module, images: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], tuple[int, int]]:
    """Head outputs of the detector on ``images`` and the feature map's (h, w)."""
    image_list, _ = model.transform(images)
    features = model.backbone(image_list.tensors)
    return model.head([features]), tuple(features.shape[-2:])


def weighted_entropy(cls_logits: torch.Tensor) -> torch.Tensor:
    """WE loss of a batch from the head's class logits (n, locations, n_classes); see the module docstring."""
    p = torch.sigmoid(cls_logits[..., FOREGROUND]).clamp(1e-6, 1 - 1e-6)
    entropy = -(p * p.log() + (1 - p) * (1 - p).log())
    weight = torch.maximum(p, 1 - p).detach()
    return (weight * entropy).sum() / weight.sum()


def _flip(images: np.ndarray, boxes: list[np.ndarray], flip: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    size = images.shape[2]
    images = images.copy()
    images[flip] = images[flip, :, ::-1]
    out = []
    for b, f in zip(boxes, flip, strict=True):
        b = b.copy()
        if f:
            b[:, [0, 2]] = size - b[:, [2, 0]]
        out.append(b)
    return images, out


def _init_box_prior(model: nn.Module, boxes: list[np.ndarray]) -> None:
    """Start every location's four distances at the typical half side of the pseudo boxes.

    torchvision's FCOS regression head ends in a ReLU with a zero bias: on a single small feature level, updates
    that push a distance below zero silence it for good, and the detector collapsed to zero-size boxes at the
    anchor centres in this track's first runs. A positive start (in anchor units, as the box coder reads the
    distances) keeps every distance alive; FCOS itself uses ``exp`` for the same reason.
    """
    stacked = np.concatenate(boxes)
    half_side = float(np.median((stacked[:, 2] - stacked[:, 0] + stacked[:, 3] - stacked[:, 1]) / 4.0))
    anchor = float(model.anchor_generator.sizes[0][0])
    with torch.no_grad():
        model.head.regression_head.bbox_reg.bias.fill_(max(half_side / anchor, 0.5))


def train_detector(
    model: nn.Module,
    images: np.ndarray,
    boxes: list[np.ndarray],
    unlabelled: np.ndarray,
    budget: Any,
    *,
    we_weight: float,
    seed: int,
    device: torch.device,
    log: Any = None,
) -> list[float]:
    """Train the detector on pseudo boxes, plus ``we_weight`` x WE on batches of the unlabelled images.

    Args:
        model: The detector of :func:`build_detector`, on ``device``.
        images: uint8 array (n, S, S, 3) of the images whose pseudo boxes are trusted.
        boxes: n float arrays (k_i >= 1, 4), their pseudo boxes in the image frame.
        unlabelled: uint8 array (m, S, S, 3) of the other training images (m may be 0).
        budget: The track's budget (``localizer_epochs``, ``batch_size``, ``learning_rate``).
        we_weight: Weight of the WE loss (0 turns it off).
        seed: Seed of batch order and flips.
        device: Where to train.
        log: The job's logger, or None.

    Returns:
        Mean total loss of every epoch.
    """
    rng = np.random.default_rng(seed + 2)
    _init_box_prior(model, boxes)
    optimizer = torch.optim.AdamW(model.parameters(), lr=budget.learning_rate, weight_decay=1e-4)
    n_steps = budget.localizer_epochs * math.ceil(len(images) / budget.batch_size)
    use_we = we_weight > 0 and len(unlabelled) > 0
    step, losses = 0, []
    model.train()
    for epoch in range(budget.localizer_epochs):
        total, total_we = 0.0, 0.0
        for rows in nets.batches(len(images), budget.batch_size, rng):
            batch, batch_boxes = _flip(images[rows], [boxes[i] for i in rows], rng.random(len(rows)) < 0.5)
            targets = [
                {"boxes": torch.from_numpy(b).float().to(device),
                 "labels": torch.full((len(b),), FOREGROUND, dtype=torch.int64, device=device)}
                for b in batch_boxes
            ]
            nets.cosine_lr(optimizer, budget.learning_rate, step, n_steps, warmup=min(50, n_steps // 10))
            loss_parts = model(_as_list(batch, device), targets)
            loss = sum(loss_parts.values())
            if use_we:
                pick = rng.choice(len(unlabelled), size=min(len(rows), len(unlabelled)), replace=False)
                flip = rng.random(len(pick)) < 0.5
                extra = unlabelled[pick].copy()
                extra[flip] = extra[flip, :, ::-1]
                outputs, _ = _head(model, _as_list(extra, device))
                we = weighted_entropy(outputs["cls_logits"])
                loss = loss + we_weight * we
                total_we += float(we.detach()) * len(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, step = total + float(loss.detach()) * len(rows), step + 1
        losses.append(total / len(images))
        if log is not None:
            log.info("detector epoch %d/%d: loss %.4f (WE %.4f)", epoch + 1, budget.localizer_epochs, losses[-1],
                     total_we / len(images))
    model.eval()
    return losses


@torch.no_grad()
def detect(model: nn.Module, images: np.ndarray, batch_size: int, device: torch.device
           ) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Detections and foreground maps of ``images``.

    Returns:
        (per image (boxes float64 (k, 4), scores float64 (k,)) in decreasing score, k >= 1; maps float32
        (n, h, w): ``sqrt(p_fg * centerness)`` of every location, the score FCOS ranks its boxes by).
    """
    model.eval()
    found, maps = [], []
    for rows in nets.batches(len(images), batch_size):
        batch = _as_list(images[rows], device)
        for detection in model(batch):
            b = detection["boxes"].double().cpu().numpy()
            s = detection["scores"].double().cpu().numpy()
            if len(b) == 0:
                size = images.shape[1]
                b, s = np.array([[0.0, 0.0, size, size]]), np.zeros(1)
            found.append((b, s))
        outputs, (height, width) = _head(model, batch)
        score = torch.sqrt(torch.sigmoid(outputs["cls_logits"][..., FOREGROUND])
                           * torch.sigmoid(outputs["bbox_ctrness"][..., 0]))
        maps.append(score.view(len(rows), height, width).float().cpu().numpy())
    return found, np.concatenate(maps)
