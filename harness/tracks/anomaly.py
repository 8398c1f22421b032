"""The ``anomaly`` track: industrial anomaly detection (MVTec AD, VisA, MVTec 3D-AD layouts).

Methods train on good images only and return, per test image, an image score and a raw anomaly
map at any resolution (the same for every image). The track upsamples every map bilinearly to
the ground-truth mask resolution (the same interpolation for every method), then computes every
metric itself: image AUROC (main), pixel AUROC, AUPRO up to FPR 0.3, image and pixel AP, image
F1-max. No score normalisation, no threshold and no model selection ever touch test data.

Data contract:

- ``load_train`` / ``load_test_inputs`` return :class:`AnomalyImages`: uint8 RGB images of shape
  (n_images, S, S, 3) at the budget's ``image_size`` and their file paths (plus point-cloud paths
  for MVTec 3D-AD, read on demand with :func:`harness.data.mvtec_3d.read_xyz`).
- ``load_truth`` returns :class:`AnomalyTruth`: labels (n_images,) and boolean masks
  (n_images, H, W) at ground-truth resolution, or at ``mask_size`` when the budget sets one.
- Predictions: ``scores`` float array of shape (n_images,) and ``maps`` float array of shape
  (n_images, h, w); both finite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import ParbenchError
from harness.registry import load_target

__all__ = ["AnomalyBudget", "AnomalyImages", "AnomalyTrack", "AnomalyTruth", "upsample_maps"]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class AnomalyBudget(Budget):
    """Budget of the anomaly track: one image size, backbone, training set and step limit for all."""

    image_size: int = field(default=128, metadata=_help("Side of the square input images, in pixels."))
    backbone: str = field(default="resnet18", metadata=_help("timm backbone every feature-based method uses."))
    layers: tuple[str, ...] = field(
        default=("layer1", "layer2"),
        metadata=_help(
            "Backbone layers used. At random init a ResNet's deeper stages only subsample layer1 (timm starts "
            "every residual branch at zero), so the CPU budgets use layer1+layer2; pretrained weights: layer2+layer3."
        ),
    )
    mask_size: int = field(default=0, metadata=_help("Side masks are scored at; 0 = ground-truth resolution."))
    train_max_images: int = field(default=0, metadata=_help("Training images per category; 0 = all."))
    batch_size: int = field(default=16, metadata=_help("Batch size of training and prediction."))
    max_steps: int = field(default=200, metadata=_help("Optimizer steps a learned method may take."))


@dataclass
class AnomalyImages:
    """Images of one split of one category (no labels, no masks).

    Attributes:
        images: uint8 array of shape (n_images, S, S, 3), RGB.
        paths: Image file of each row.
        xyz_paths: Point-cloud file of each row (MVTec 3D-AD), else empty.
    """

    images: np.ndarray
    paths: list[str]
    xyz_paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class AnomalyTruth:
    """Test truth of one category; lives in the runner's process only.

    Attributes:
        labels: int64 array of shape (n_images,), 1 = anomalous.
        masks: bool array of shape (n_images, H, W).
        paths: Image file of each row.
    """

    labels: np.ndarray
    masks: np.ndarray
    paths: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def upsample_maps(maps: np.ndarray, shape: tuple[int, int], *, chunk: int = 64) -> np.ndarray:
    """Resize anomaly maps bilinearly (align_corners=False) to ``shape``.

    Args:
        maps: float array of shape (n_images, h, w).
        shape: Target (H, W).
        chunk: Images resized at once (bounds memory).

    Returns:
        float32 array of shape (n_images, H, W); ``maps`` itself (as float32) when sizes match.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.shape[1:] == tuple(shape):
        return maps
    import torch
    import torch.nn.functional as F  # noqa: N812

    out = np.empty((len(maps), *shape), dtype=np.float32)
    for start in range(0, len(maps), chunk):
        block = torch.from_numpy(maps[start : start + chunk])[:, None]
        resized = F.interpolate(block, size=shape, mode="bilinear", align_corners=False)
        out[start : start + chunk] = resized[:, 0].numpy()
    return out


class AnomalyTrack(Track):
    """Industrial anomaly detection: image and pixel AUROC, AUPRO, AP, F1-max."""

    name = "anomaly"
    description = "Industrial anomaly detection (MVTec AD / VisA / MVTec 3D-AD layouts)."
    metrics = {
        "image_auroc": True,
        "pixel_auroc": True,
        "aupro": True,
        "image_ap": True,
        "pixel_ap": True,
        "image_f1_max": True,
    }
    budget_cls = AnomalyBudget
    budgets = {
        "smoke": {
            "time_limit_s": 120.0, "memory_limit_mb": 4096, "seeds": (0,), "image_size": 64,
            "train_max_images": 16, "batch_size": 16, "max_steps": 8, "mask_size": 64,
        },
        "default": {
            "time_limit_s": 300.0, "memory_limit_mb": 6144, "seeds": (0,), "image_size": 96,
            "train_max_images": 20, "batch_size": 16, "max_steps": 100, "mask_size": 128,
        },
        "paper": {
            "time_limit_s": 3600.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda",
            "image_size": 256, "backbone": "wide_resnet50_2", "layers": ("layer2", "layer3"), "batch_size": 32,
            "max_steps": 10000,
            "mask_size": 0,
        },
    }
    default_dataset = "synth_mvtec_ad"
    budget_datasets = {"paper": "mvtec_ad"}
    budget_subsets = {"smoke": ("nut",)}
    has_figures = True

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Categories present on disk."""
        return list(load_target(card.subsets_lister)(root))

    @staticmethod
    def _index(root: Path, card: Any, subset: str) -> Any:
        return load_target(card.loader)(root, subset)

    def _images(self, rows: Any, budget: AnomalyBudget) -> AnomalyImages:
        from harness.data import read_images

        paths = rows["image_path"].tolist()
        xyz = rows["xyz_path"].tolist() if "xyz_path" in rows else []
        return AnomalyImages(read_images(paths, budget.image_size), paths, xyz)

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> AnomalyImages:
        """Good training images of one category (the first ``train_max_images`` in path order)."""
        index = self._index(root, card, subset)
        train = index[index["split"] == "train"]
        if budget.train_max_images:
            train = train.iloc[: budget.train_max_images]
        return self._images(train, budget)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> AnomalyImages:
        """Test images of one category, without labels or masks."""
        index = self._index(root, card, subset)
        return self._images(index[index["split"] == "test"], budget)

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> AnomalyTruth:
        """Labels and masks of the test images, at ground-truth resolution or ``mask_size``."""
        from harness.data import image_shape, read_masks

        index = self._index(root, card, subset)
        test = index[index["split"] == "test"]
        if budget.mask_size:
            shape = (budget.mask_size, budget.mask_size)
        else:
            shapes = {image_shape(p) for p in test["image_path"]}
            if len(shapes) > 1:
                msg = (
                    f"{card.name}/{subset}: test images have {len(shapes)} sizes {sorted(shapes)[:3]}; "
                    "set the budget's mask_size (e.g. --set mask_size=256) to score them at one size."
                )
                raise ParbenchError(msg)
            shape = shapes.pop()
        masks = read_masks(test["mask_path"].tolist(), shape)
        return AnomalyTruth(test["label"].to_numpy(dtype=np.int64), masks, test["image_path"].tolist())

    def validate(self, predictions: Predictions, truth: AnomalyTruth) -> None:
        """Finite ``scores`` (n_images,) and ``maps`` (n_images, h, w)."""
        n_images = len(truth)
        predictions.check("scores", shape=(n_images,), kind="f")
        predictions.check("maps", shape=(n_images, -1, -1), kind="f")

    def evaluate(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, float]:
        """Every metric from the raw scores and the maps upsampled to mask resolution."""
        from harness.metrics import anomaly as m

        scores = predictions["scores"].astype(np.float64)
        maps = upsample_maps(predictions["maps"], truth.masks.shape[1:])
        return {
            "image_auroc": m.image_auroc(scores, truth.labels),
            "pixel_auroc": m.pixel_auroc(maps, truth.masks),
            "aupro": m.aupro(maps, truth.masks),
            "image_ap": m.average_precision(scores, truth.labels),
            "pixel_ap": m.pixel_average_precision(maps, truth.masks),
            "image_f1_max": m.f1_max(scores, truth.labels),
        }

    def save_figure(self, predictions: Predictions, truth: AnomalyTruth, path: Path, *, title: str) -> None:
        """Write a PNG panel: a few test images, their masks and the method's anomaly maps."""
        from harness.tracks.anomaly_figures import panel

        panel(predictions, truth, path, title=title)
