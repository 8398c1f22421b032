"""What the track's methods share: the stage-1 classifier, CAM boxes, DDT pseudo boxes, a single-class regressor.

Every learned method of the track starts the same way (:meth:`WsolMethod.fit_classifier`: the budget's backbone
at the seed's init, trained on image labels for ``classifier_epochs``), so differences between rows come from
how they localise. Two-stage methods then derive class-agnostic pseudo boxes from that classifier
(:meth:`WsolMethod.pseudo_boxes`, DDT on its features with the threshold chosen on the held-out split) and train
a localiser on them, starting from the classifier's backbone (:meth:`WsolMethod.localizer_backbone`): a
single-class box regressor (:class:`BoxRegressor`, PSOL's SCR) or a detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.api import Budget, Context, Method
from harness.tracks.wsol import boxes as wb
from harness.tracks.wsol import nets

__all__ = ["BoxRegressor", "PseudoBoxes", "WsolMethod", "train_regressor"]


@dataclass
class PseudoBoxes:
    """Class-agnostic pseudo boxes of the training images.

    Attributes:
        boxes: n_train float64 arrays (k_i >= 1, 4) in the image frame, largest component first.
        quality: float64 array (n_train,): contrast of the normalised DDT map inside the boxes against outside
            (higher = a cleaner box); two-stage methods may trust the best ones more.
        threshold: The normalised-map threshold chosen on the held-out split.
        val_accuracy: GT-known accuracy of that threshold's top box on the held-out split.
    """

    boxes: list[np.ndarray]
    quality: np.ndarray
    threshold: float
    val_accuracy: float


class WsolMethod(Method):
    """Base of the track's learned methods: device and threads, the classifier, CAM and DDT boxes."""

    track = "wsol"

    def setup(self, budget: Budget, ctx: Context) -> None:
        """Store the device, threads, seed and budget of the job."""
        self.device = torch.device(ctx.device)
        self.n_threads = max(1, ctx.n_threads)
        torch.set_num_threads(self.n_threads)
        self.seed = int(ctx.seed)
        self.budget = budget
        self.log = ctx.log

    def new_backbone(self) -> nets.FeatureBackbone:
        """The budget's backbone at the seed's shared init (or the budget's checkpoint), on the device."""
        budget = self.budget
        backbone = nets.build_backbone(budget.backbone, budget.feature_layer, weights=budget.weights, seed=self.seed)
        return backbone.to(self.device)

    def localizer_backbone(self) -> nets.FeatureBackbone:
        """A copy of the trained classifier's backbone: where every second-stage localiser starts.

        The paper's localisers start from ImageNet weights; without downloads, the stage-1 classifier (trained
        on the same weak labels) is the only pre-training there is, and every two-stage method gets the same.
        """
        import copy

        return copy.deepcopy(self.classifier.backbone).train()

    def fit_classifier(self, train: Any, *, transform: Any = None) -> nets.CamClassifier:
        """Stage 1: the CAM classifier trained on image labels (``transform``: extra augmentation, e.g. HaS)."""
        torch.manual_seed(self.seed)
        self.classifier = nets.CamClassifier(self.new_backbone(), train.n_classes).to(self.device)
        nets.train_classifier(
            self.classifier, train.images, train.labels, self.budget, seed=self.seed, device=self.device,
            log=self.log, transform=transform,
        )
        return self.classifier

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(logits (n, n_classes), top-1 CAMs (n, S, S), features (n, C, h, w)) of the classifier."""
        logits, cams, features = nets.class_scores_and_cams(
            self.classifier, images, self.budget.batch_size, self.device
        )
        return logits, wb.resize_maps(cams, images.shape[1]), features

    def pseudo_boxes(self, train: Any) -> PseudoBoxes:
        """DDT pseudo boxes of the training images, threshold chosen on the held-out split (labels known there).

        The DDT statistics (mean descriptor and first principal component per class) come from the training
        images of each class; the held-out images are projected with their own class's statistics, so the
        threshold is chosen on exactly the kind of map the training images get.
        """
        size = train.images.shape[1]
        _, train_cams, features = nets.class_scores_and_cams(
            self.classifier, train.images, self.budget.batch_size, self.device, labels=train.labels
        )
        transform = wb.fit_ddt(features, train.labels, reference=train_cams)
        _, _, val_features = nets.class_scores_and_cams(self.classifier, train.val_images, self.budget.batch_size,
                                                        self.device, labels=train.val_labels)
        val_maps = wb.resize_maps(wb.apply_ddt(transform, val_features, train.val_labels), size)
        threshold, accuracy = wb.choose_threshold(val_maps, train.val_boxes)
        maps = wb.resize_maps(wb.apply_ddt(transform, features, train.labels), size)
        boxes, quality = [], np.zeros(len(maps))
        for i, score_map in enumerate(maps):
            found, _ = wb.map_boxes(score_map, threshold, max_boxes=self.budget.max_boxes, min_share=0.2)
            boxes.append(found)
            normalized = wb.normalize(score_map)
            inside = np.zeros(score_map.shape, dtype=bool)
            for x0, y0, x1, y1 in found.astype(int):
                inside[y0:y1, x0:x1] = True
            outside = normalized[~inside].mean() if (~inside).any() else 0.0
            quality[i] = normalized[inside].mean() - outside
        self.log.info("DDT pseudo boxes: threshold %.2f (held-out GT-known %.3f), %.2f boxes per image",
                      threshold, accuracy.max(), np.mean([len(b) for b in boxes]))
        return PseudoBoxes(boxes, quality, threshold, float(accuracy.max()))


class BoxRegressor(nn.Module):
    """Single-class regression (SCR, as in PSOL): backbone, a flattened small map, an MLP to one box per image.

    The feature map is reduced to 32 channels by a 1 x 1 convolution and flattened, not pooled: global pooling
    would discard where the object is, which a shallow backbone encodes nowhere else. The output is
    ``(cx, cy, w, h)`` through a sigmoid, as shares of the image side.
    """

    def __init__(self, backbone: nets.FeatureBackbone, image_size: int) -> None:
        super().__init__()
        self.backbone = backbone
        side = math.ceil(image_size / backbone.stride)
        self.reduce = nn.Sequential(nn.Conv2d(backbone.out_channels, 32, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * side * side, 256), nn.ReLU(), nn.Linear(256, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return boxes (n, 4) as (x0, y0, x1, y1) in shares of the image side."""
        cx, cy, w, h = torch.sigmoid(self.head(self.reduce(self.backbone(x)))).unbind(dim=1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1)


def _flip_boxes(boxes: np.ndarray, size: int, flip: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[flip, 0], out[flip, 2] = size - boxes[flip, 2], size - boxes[flip, 0]
    return out


def train_regressor(
    model: BoxRegressor, images: np.ndarray, targets: np.ndarray, budget: Any, *, seed: int, device: torch.device,
    log: Any = None,
) -> None:
    """Train the regressor on one target box per image (L1 + generalised IoU loss, flips, AdamW, cosine).

    Args:
        model: The regressor, on ``device``.
        images: uint8 array of shape (n, S, S, 3).
        targets: float array of shape (n, 4), one box per image in the image frame.
        budget: The track's budget (``localizer_epochs``, ``batch_size``, ``learning_rate``).
        seed: Seed of the batch order and the flips.
        device: Where to train.
        log: The job's logger, or None.
    """
    from torchvision.ops import generalized_box_iou_loss

    size = images.shape[1]
    rng = np.random.default_rng(seed + 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=budget.learning_rate, weight_decay=1e-4)
    n_steps = budget.localizer_epochs * math.ceil(len(images) / budget.batch_size)
    step = 0
    model.train()
    for epoch in range(budget.localizer_epochs):
        total = 0.0
        for rows in nets.batches(len(images), budget.batch_size, rng):
            flip = rng.random(len(rows)) < 0.5
            batch = images[rows].copy()
            batch[flip] = batch[flip, :, ::-1]
            target = torch.from_numpy(_flip_boxes(targets[rows], size, flip) / size).float().to(device)
            nets.cosine_lr(optimizer, budget.learning_rate, step, n_steps, warmup=min(50, n_steps // 10))
            pred = model(nets.to_tensor(batch, device))
            loss = F.l1_loss(pred, target) + generalized_box_iou_loss(pred, target, reduction="mean")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, step = total + float(loss.detach()) * len(rows), step + 1
        if log is not None:
            log.info("regressor epoch %d/%d: loss %.4f", epoch + 1, budget.localizer_epochs, total / len(images))
    model.eval()


@torch.no_grad()
def regress(model: BoxRegressor, images: np.ndarray, batch_size: int, device: torch.device) -> np.ndarray:
    """One box per image (n, 4) in the image frame, x0 <= x1 and y0 <= y1."""
    size = images.shape[1]
    out = [model(nets.to_tensor(images[rows], device)).float().cpu() for rows in nets.batches(len(images), batch_size)]
    boxes = torch.cat(out).numpy().astype(np.float64) * size
    return np.clip(boxes, 0, size)
