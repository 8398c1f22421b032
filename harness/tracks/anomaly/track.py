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

Presets (``parbench list budgets``):

- ``smoke``: CI, one category at 64 px.
- ``default``: the embedded synthetic data at 128 px, the size it is written at (at 96 px the per-pixel floor
  ranked above PaDiM and within 0.031 of the best method; at 128 px the lead is 0.064, README's budget study),
  20 training images per category, ResNet-18 ``layer1`` + ``layer2`` at random init, 3 seeds.
- ``unified``: the unified protocol below at 96 px.
- ``cpu-256``: real data (MVTec AD by default) on the CPU at 256 px, the first 40 good training images of each
  category, masks scored at 256 px, 200 steps for the learned methods.
- ``paper``: real data on one GPU at 256 px with a local WideResNet-50 checkpoint and every training image.

Protocols (the budget's ``protocol``):

- ``per_category`` (every preset but ``unified``): one job, one model per category.
- ``unified`` (preset ``unified``): one model for every category, as in UniAD and SNARM's universal setting.
  The grid's only subset is :data:`UNIFIED` (``"all"``): its training set pools the first
  ``train_max_images`` good images of each category, its test set every category's test images (shuffled
  together; no input names the category). Each metric is computed per category and averaged; the
  per-category values are kept as diagnostics and written to ``leaderboards/anomaly/unified.{csv,md}``.

Breakdowns: the truth also holds each test image's defect type (its folder) and, for the synthetic data, the
severity the generator recorded; the job stores one record per defective image
(:mod:`harness.tracks.anomaly.breakdown`), and ``parbench leaderboard`` writes the AUROC of good against each
defect type and the detection rate against severity and area (``per_defect.*``, ``detection.*``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import ParbenchError
from harness.options import option
from harness.registry import load_target

__all__ = ["UNIFIED", "AnomalyBudget", "AnomalyImages", "AnomalyTrack", "AnomalyTruth", "upsample_maps"]

#: The one subset of the unified protocol: every category of the dataset, pooled into one job.
UNIFIED = "all"



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
    protocol: str = option(
        "per_category",
        "per_category: one model per category (the MVTec AD convention); unified: one model trained on the good "
        "images of every category and scored per category (UniAD's multi-class setting); the grid's only subset "
        "is then 'all'.",
        choices=("per_category", "unified"),
    )


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
        categories: Category of each row (the unified protocol pools several); default: one unnamed category.
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
    categories: list[str] | None = None

    def __post_init__(self) -> None:
        if self.defects is None:
            self.defects = ["defect" if label else "good" for label in self.labels]
        if self.severity is None:
            self.severity = np.full(len(self.labels), np.nan)
        if self.categories is None:
            self.categories = [""] * len(self.labels)

    def groups(self) -> list[tuple[str, np.ndarray]]:
        """(category, row indices) of each category, in order of first appearance; one group for one category."""
        names = list(dict.fromkeys(self.categories))
        if len(names) == 1:
            return [(names[0], np.arange(len(self.labels)))]
        codes = np.asarray([names.index(c) for c in self.categories])
        return [(name, np.flatnonzero(codes == k)) for k, name in enumerate(names)]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> AnomalyTruth:
        """The truth in ``order`` (int array of shape (n_images,))."""
        return AnomalyTruth(self.labels[order], self.masks[order], [self.paths[i] for i in order],
                            [self.defects[i] for i in order], self.severity[order],
                            [self.categories[i] for i in order])


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
            "time_limit_s": 300.0, "memory_limit_mb": 6144, "seeds": (0, 1, 2), "image_size": 128,
            "train_max_images": 20, "batch_size": 16, "max_steps": 100, "mask_size": 128,
        },
        "unified": {
            "time_limit_s": 1800.0, "memory_limit_mb": 8192, "seeds": (0, 1, 2), "image_size": 96,
            "train_max_images": 20, "batch_size": 16, "max_steps": 100, "mask_size": 128, "protocol": "unified",
        },
        "cpu-256": {
            "time_limit_s": 3600.0, "memory_limit_mb": 16384, "seeds": (0, 1, 2), "image_size": 256,
            "train_max_images": 40, "batch_size": 16, "max_steps": 200, "mask_size": 256,
        },
        "paper": {
            "time_limit_s": 3600.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda",
            "image_size": 256, "backbone": "wide_resnet50_2", "layers": ("layer2", "layer3"), "batch_size": 32,
            "max_steps": 10000,
            "mask_size": 0,
        },
    }
    default_dataset = "synth_mvtec_ad"
    budget_datasets = {"paper": "mvtec_ad", "cpu-256": "mvtec_ad"}
    budget_subsets = {"smoke": ("nut",)}
    has_figures = True

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Categories present on disk."""
        return list(load_target(card.subsets_lister)(root))

    def grid_subsets(self, root: Path, card: Any, budget: Budget) -> list[str]:
        """The categories; under the unified protocol the one pooled subset :data:`UNIFIED`."""
        return [UNIFIED] if budget.protocol == "unified" else self.subsets(root, card)

    def _index(self, root: Path, card: Any, subset: str) -> Any:
        """Index of one category, or of every category (column ``category`` added) for :data:`UNIFIED`."""
        import pandas as pd

        names = self.subsets(root, card) if subset == UNIFIED else [subset]
        if not names:
            msg = f"{card.name} at {root}: no category found to pool into subset {UNIFIED!r}."
            raise ParbenchError(msg)
        loader = load_target(card.loader)
        return pd.concat([loader(root, name).assign(category=name) for name in names], ignore_index=True)

    def _images(self, rows: Any, budget: AnomalyBudget) -> AnomalyImages:
        from harness.data import read_images

        images = read_images(rows["image_path"].tolist(), budget.image_size)
        xyz = None
        if "xyz_path" in rows:
            from harness.tracks.anomaly.mvtec_3d import read_xyz_batch

            xyz = read_xyz_batch(rows["xyz_path"].tolist(), budget.image_size)
        return AnomalyImages(images, xyz)

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> AnomalyImages:
        """Good training images of one category: the first ``train_max_images`` in path order.

        :data:`UNIFIED` pools every category's (``train_max_images`` per category).
        """
        index = self._index(root, card, subset)
        train = index[index["split"] == "train"]
        if budget.train_max_images:
            train = train.groupby("category", sort=False).head(budget.train_max_images)
        return self._images(train, budget)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> AnomalyImages:
        """Test images of one category (of every category for :data:`UNIFIED`), without labels or masks."""
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
                            recorded_severity(paths), test["category"].astype(str).tolist())

    def validate(self, predictions: Predictions, truth: AnomalyTruth) -> None:
        """Finite ``scores`` (n_images,) and ``maps`` (n_images, h, w)."""
        n_images = len(truth)
        predictions.check("scores", shape=(n_images,), kind="f")
        predictions.check("maps", shape=(n_images, -1, -1), kind="f")

    @staticmethod
    def _metrics(scores: np.ndarray, maps: np.ndarray, labels: np.ndarray, masks: np.ndarray) -> dict[str, float]:
        from harness.metrics import anomaly as m

        return {
            "image_auroc": m.image_auroc(scores, labels),
            "pixel_auroc": m.pixel_auroc(maps, masks),
            "aupro": m.aupro(maps, masks),
            "image_ap": m.average_precision(scores, labels),
            "pixel_ap": m.pixel_average_precision(maps, masks),
            "image_f1_max": m.f1_max(scores, labels),
        }

    def per_category(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, dict[str, float]]:
        """Every metric of each category of the truth (one entry for one category), from the upsampled maps."""
        scores = predictions["scores"].astype(np.float64)
        maps = upsample_maps(predictions["maps"], truth.masks.shape[1:])
        return {name: self._metrics(scores[rows], maps[rows], truth.labels[rows], truth.masks[rows])
                for name, rows in truth.groups()}

    def evaluate(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, float]:
        """Every metric from the raw scores and the maps upsampled to mask resolution.

        Under the unified protocol each metric is computed per category and averaged over categories (the
        number a per-category table averages); :meth:`diagnostics` keeps the per-category values.
        """
        per = self.per_category(predictions, truth)
        return {name: float(np.mean([values[name] for values in per.values()])) for name in self.metrics}

    #: The first table: image and pixel AUROC, AUPRO and image AP (then the costs).
    headline_metrics = ("image_auroc", "pixel_auroc", "aupro", "image_ap")
    strata_item = "label"

    def item_results(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, np.ndarray]:
        """Image score and label of every test image (the image metrics are resampled; the pixel ones are not)."""
        out = {"score": predictions["scores"].astype(np.float64), "label": truth.labels.astype(np.int64)}
        groups = truth.groups()
        if len(groups) > 1:
            category = np.empty(len(truth), dtype=np.int64)
            for code, (_, rows) in enumerate(groups):
                category[rows] = code
            out["category"] = category
        return out

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Image AUROC, AP and F1-max of every resample of the test images (stratified by label).

        Under the unified protocol (items carry ``category``) each is computed per category and averaged, as
        :meth:`evaluate` does.
        """
        from harness.metrics import resample as r

        score, label = items["score"], items["label"]
        codes = items["category"] if "category" in items else np.zeros(len(score), dtype=np.int64)
        parts = []
        for code in np.unique(codes):
            rows = codes == code
            parts.append({
                "image_auroc": r.weighted_auroc(score[rows], label[rows], weights[:, rows]),
                "image_ap": r.weighted_average_precision(score[rows], label[rows], weights[:, rows]),
                "image_f1_max": r.weighted_f1_max(score[rows], label[rows], weights[:, rows]),
            })
        if len(parts) == 1:
            return parts[0]
        with warnings.catch_warnings():  # a resample without one class in a category: NaN, left out of the mean
            warnings.simplefilter("ignore", RuntimeWarning)
            return {name: np.nanmean(np.stack([part[name] for part in parts]), axis=0) for name in parts[0]}

    def diagnostics(self, predictions: Predictions, truth: AnomalyTruth) -> dict[str, np.ndarray]:
        """One record per defective test image (type, severity, area, outscored good share, detected).

        See :func:`harness.tracks.anomaly.breakdown.per_image` (the detection threshold is set per category);
        :meth:`leaderboard_figures` turns them into the per-defect and detection tables. Under the unified
        protocol also ``category.<name>.<metric>`` (shape (1,)) for every category and metric.
        """
        from harness.tracks.anomaly.breakdown import PREFIX, per_image

        scores = predictions["scores"]
        groups = truth.groups()
        parts = []
        for name, rows in groups:
            part = per_image(scores[rows], truth.labels[rows], [truth.defects[i] for i in rows], truth.severity[rows],
                             truth.masks[rows])
            if len(groups) > 1:
                part[PREFIX + "category"] = np.full(len(part[PREFIX + "defect"]), name, dtype=object).astype(str)
            parts.append(part)
        out = parts[0] if len(parts) == 1 else {
            key: np.concatenate([part[key] for part in parts]) for key in parts[0] if key != PREFIX + "fpr"
        }
        if len(groups) > 1:
            out[PREFIX + "fpr"] = np.array([float(np.nanmean([part[PREFIX + "fpr"][0] for part in parts]))])
            for name, values in self.per_category(predictions, truth).items():
                out.update({f"category.{name}.{metric}": np.array([value]) for metric, value in values.items()})
        return out

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Per-defect AUROC and detection-against-severity/area tables (CSV + Markdown) and their figures.

        For unified-protocol jobs also the per-category table ``unified.{csv,md}``.
        """
        from harness.tracks.anomaly.breakdown import breakdown_tables, unified_tables

        diagnostics = diagnostics or {}
        return breakdown_tables(rows, out_dir, diagnostics) + unified_tables(rows, out_dir, diagnostics)

    def save_figure(self, predictions: Predictions, truth: AnomalyTruth, path: Path, *, title: str) -> None:
        """Write a PNG panel: a few test images, their masks and the method's anomaly maps."""
        from harness.tracks.anomaly.figures import panel

        panel(predictions, truth, path, title=title)
