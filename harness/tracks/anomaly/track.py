"""The ``anomaly`` track: industrial anomaly detection (MVTec AD, VisA, MVTec 3D-AD layouts).

Methods train on good images only and return, per test image, an image score and a raw anomaly
map at any resolution (the same for every image). The track upsamples every map bilinearly to
the ground-truth mask resolution (the same interpolation for every method), then computes every
metric itself: image AUROC (main), pixel AUROC, AUPRO up to FPR 0.3, image and pixel AP, image
F1-max. No score normalisation, no threshold and no model selection ever touch test data.

Data contract:

- ``load_train`` / ``load_test_inputs`` return :class:`AnomalyImages`: uint8 RGB images of shape
  (n_images, S, S, 3) at the budget's ``image_size`` (plus, for MVTec 3D-AD, the organised point
  clouds as float32 arrays (n_images, S, S, 3) at the same size). No file path travels with them:
  a path such as ``test/crack/003.png`` names the defect. The test images reach the job in a seeded
  random order (the index is sorted by defect folder), and the runner puts the truth in that order.
- ``load_truth`` returns :class:`AnomalyTruth`: labels (n_images,) and boolean masks
  (n_images, H, W) at ground-truth resolution, or at ``mask_size`` when the budget sets one.
- Predictions: ``scores`` float array of shape (n_images,) and ``maps`` float array of shape
  (n_images, h, w); both finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import ParbenchError
from harness.options import option
from harness.registry import load_target

__all__ = ["AnomalyBudget", "AnomalyImages", "AnomalyTrack", "AnomalyTruth", "upsample_maps"]



@dataclass(frozen=True)
class AnomalyBudget(Budget):
    """Budget of the anomaly track: one image size, backbone, training set and step limit for all."""

    image_size: int = option(128, "Side of the square input images, in pixels.", ge=8)
    backbone: str = option("resnet18", "timm backbone every feature-based method uses.", non_empty=True)
    layers: tuple[str, ...] = option(
        ("layer1", "layer2"),
        "Backbone layers used. At random init a ResNet's deeper stages only subsample layer1 (timm starts "
        "every residual branch at zero), so the CPU budgets use layer1+layer2; pretrained weights: layer2+layer3.",
        non_empty=True,
    )
    mask_size: int = option(0, "Side masks are scored at; 0 = ground-truth resolution.", ge=0)
    train_max_images: int = option(0, "Training images per category; 0 = all.", ge=0)
    batch_size: int = option(16, "Batch size of training and prediction.", ge=1)
    max_steps: int = option(200, "Optimizer steps a learned method may take.", ge=0)


@dataclass
class AnomalyImages:
    """Images of one split of one category (no labels, no masks).

    Attributes:
        images: uint8 array of shape (n_images, S, S, 3), RGB.
        xyz: float32 array of shape (n_images, S, S, 3), the organised point cloud of each image (x, y, z per
            pixel, 0 where the sensor saw nothing; MVTec 3D-AD), else None.
    """

    images: np.ndarray
    xyz: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def take(self, order: np.ndarray) -> AnomalyImages:
        """The images in ``order`` (int array of shape (n_images,))."""
        return AnomalyImages(self.images[order], None if self.xyz is None else self.xyz[order])


@dataclass
class AnomalyTruth:
    """Test truth of one category; lives in the runner's process only.

    Attributes:
        labels: int64 array of shape (n_images,), 1 = anomalous.
        masks: bool array of shape (n_images, H, W).
        paths: Image file of each row.
        defects: Defect type of each row (its test folder; ``"good"`` for good images); default: ``"good"``
            or ``"defect"`` from the label.
        severity: float64 array of shape (n_images,): the severity the synthetic generator recorded, NaN
            where none is known (real data, good images).
    """

    labels: np.ndarray
    masks: np.ndarray
    paths: list[str]
    defects: list[str] | None = None
    severity: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.defects is None:
            self.defects = ["defect" if label else "good" for label in self.labels]
        if self.severity is None:
            self.severity = np.full(len(self.labels), np.nan)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> AnomalyTruth:
        """The truth in ``order`` (int array of shape (n_images,))."""
        return AnomalyTruth(self.labels[order], self.masks[order], [self.paths[i] for i in order],
                            [self.defects[i] for i in order], self.severity[order])


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
            "time_limit_s": 300.0, "memory_limit_mb": 6144, "seeds": (0, 1, 2), "image_size": 96,
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

        images = read_images(rows["image_path"].tolist(), budget.image_size)
        xyz = None
        if "xyz_path" in rows:
            from harness.tracks.anomaly.mvtec_3d import read_xyz_batch

            xyz = read_xyz_batch(rows["xyz_path"].tolist(), budget.image_size)
        return AnomalyImages(images, xyz)

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
        from harness.tracks.anomaly.synth import recorded_severity

        paths = test["image_path"].tolist()
        return AnomalyTruth(test["label"].to_numpy(dtype=np.int64), masks, paths, test["defect"].astype(str).tolist(),
                            recorded_severity(paths))

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

    #: The first table: image and pixel AUROC, AUPRO and image AP (then the costs).
    headline_metrics = ("image_auroc", "pixel_auroc", "aupro", "image_ap")
    strata_item = "label"

    def item_results(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, np.ndarray]:
        """Image score and label of every test image (the image metrics are resampled; the pixel ones are not)."""
        return {"score": predictions["scores"].astype(np.float64), "label": truth.labels.astype(np.int64)}

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Image AUROC, AP and F1-max of every resample of the test images (stratified by label)."""
        from harness.metrics import resample as r

        score, label = items["score"], items["label"]
        return {
            "image_auroc": r.weighted_auroc(score, label, weights),
            "image_ap": r.weighted_average_precision(score, label, weights),
            "image_f1_max": r.weighted_f1_max(score, label, weights),
        }

    def diagnostics(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, np.ndarray]:
        """One record per defective test image (type, severity, area, outscored good share, detected).

        See :func:`harness.tracks.anomaly.breakdown.per_image`; :meth:`leaderboard_figures` turns them into the
        per-defect and detection tables.
        """
        from harness.tracks.anomaly.breakdown import per_image

        return per_image(predictions["scores"], truth.labels, truth.defects, truth.severity, truth.masks)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Per-defect AUROC and detection-against-severity/area tables (CSV + Markdown) and their figures."""
        from harness.tracks.anomaly.breakdown import breakdown_tables

        return breakdown_tables(rows, out_dir, diagnostics or {})

    def save_figure(self, predictions: Predictions, truth: AnomalyTruth, path: Path, *, title: str) -> None:
        """Write a PNG panel: a few test images, their masks and the method's anomaly maps."""
        from harness.tracks.anomaly.figures import panel

        panel(predictions, truth, path, title=title)
