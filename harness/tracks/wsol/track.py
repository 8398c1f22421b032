"""The ``wsol`` track: weakly supervised object localization under the protocol of Choe et al. (CVPR 2020).

Methods learn from image-level labels only. Besides them, each job receives a small held-out split with boxes
(their *train-fullsup*: ``val_per_class`` training images per class, left out of the weakly labelled set) for
choosing hyperparameters and the score-map threshold. Test boxes never leave the runner's process.

Coordinates: every image is resized to the budget's ``image_size`` square (as wsolevaluation resizes to 224 px),
and the ground-truth boxes are scaled with it, so boxes and score maps live in that frame, in pixel-edge
coordinates ``(x0, y0, x1, y1)`` (a box over pixel columns 3..7 has x0 = 3, x1 = 8).

Data contract:

- ``load_train`` returns :class:`WsolTrain`: the weakly labelled images and labels, and the held-out images
  with labels and boxes.
- ``load_test_inputs`` returns :class:`WsolImages` (images only, in a seeded random order: the index is sorted
  by class); ``load_truth`` returns :class:`WsolTruth` (labels and boxes, runner's process only).
- Predictions: ``class_scores`` float (n_images, n_classes), higher = more likely; ``boxes`` float
  (n_images, K, 4), each image's boxes in decreasing confidence, in the ``image_size`` frame (clipped to it by
  the track); ``box_scores`` float (n_images, K); ``n_boxes`` int (n_images,), how many of the K rows are
  boxes (at least 1; the rest are padding and ignored); ``maps`` float (n_images, h, w), the localization
  score map at any resolution (upsampled bilinearly to ``image_size`` by the track). A method without a native
  map returns its boxes rasterised (:func:`harness.tracks.wsol.boxes.rasterize_boxes`).

Metrics (all higher is better; :mod:`harness.metrics.localization`): ``gt_known_loc`` (main; CorLoc: the top
box has IoU >= 0.5 with a true box), ``top1_loc``, ``top5_loc`` (right class among the top 1 / 5 and a right
box), ``top1_cls``, ``max_box_acc_v2`` (mean over IoU 0.3/0.5/0.7 of the best box accuracy over 100 map
thresholds, every component a box) and its three terms ``max_box_acc_30/50/70``, ``multi_recall`` (share of
all true boxes found by the top n_gt boxes of their image, one-to-one at IoU 0.5) and ``multi_recall_multi``
(the same over the images with two or more objects only; absent on a dataset of one object per image, such
as CUB). Every metric is resampled over test images for the
leaderboard's intervals. The box accuracy of every threshold at IoU 0.5 is stored as the diagnostic
``box_acc_curve`` and drawn by :meth:`WsolTrack.leaderboard_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.data import LabelFreeImages
from harness.errors import InvalidPredictionError, ParbenchError
from harness.options import option
from harness.registry import load_target

__all__ = ["WsolBudget", "WsolImages", "WsolTrack", "WsolTrain", "WsolTruth", "scale_boxes"]


@dataclass(frozen=True)
class WsolBudget(Budget):
    """Budget of the wsol track: one image size, backbone, schedule and held-out split for every method."""

    image_size: int = option(64, "Side of the square input images, in pixels (boxes are scaled with them).", ge=16)
    backbone: str = option("resnet18", "timm backbone of every network (classifier, regressor, detector).",
                           non_empty=True)
    feature_layer: str = option(
        "layer2", "Backbone stage whose feature map the localisation heads use (layer2: stride 8).", non_empty=True
    )
    classifier_epochs: int = option(20, "Epochs of the image-label classifier (stage 1 of every method).", ge=1)
    localizer_epochs: int = option(15, "Epochs of a second-stage localiser (box regressor or detector).", ge=1)
    batch_size: int = option(32, "Batch size of training and prediction.", ge=1)
    learning_rate: float = option(2e-3, "AdamW learning rate of every network.", gt=0)
    val_per_class: int = option(
        5, "Held-out images per class with boxes (Choe et al.'s train-fullsup), left out of training.", ge=1
    )
    train_per_class: int = option(0, "Weakly labelled training images per class; 0 = all.", ge=0)
    test_max_images: int = option(0, "Test images (the first per class in turn); 0 = all.", ge=0)
    max_boxes: int = option(5, "Boxes a method may return per image (K).", ge=1)


@dataclass
class WsolImages(LabelFreeImages):
    """Images of one split, no labels.

    Attributes:
        images: uint8 array of shape (n_images, S, S, 3), RGB, resized to the budget's ``image_size``.
    """


@dataclass
class WsolTrain:
    """What a method learns from: weak labels, plus the small held-out split with boxes.

    Attributes:
        images: uint8 array of shape (n_train, S, S, 3).
        labels: int64 array of shape (n_train,), in ``[0, n_classes)``.
        class_names: Name of each class.
        val_images: uint8 array of shape (n_val, S, S, 3), the held-out images.
        val_labels: int64 array of shape (n_val,).
        val_boxes: n_val float64 arrays of shape (n_boxes_i, 4) in the ``S`` frame; only for choosing
            hyperparameters and thresholds, never for training a localiser.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    val_images: np.ndarray
    val_labels: np.ndarray
    val_boxes: list[np.ndarray]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


@dataclass
class WsolTruth:
    """Test truth (runner's process only).

    Attributes:
        labels: int64 array of shape (n_images,).
        boxes: n_images float64 arrays of shape (n_boxes_i, 4) in the ``S`` frame.
        paths: Image file of each row.
        n_classes: Number of classes.
        image_size: The frame's side ``S``.
    """

    labels: np.ndarray
    boxes: list[np.ndarray]
    paths: list[str]
    n_classes: int
    image_size: int

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> WsolTruth:
        """The truth in ``order`` (int array of shape (n_images,))."""
        return WsolTruth(
            self.labels[order], [self.boxes[i] for i in order], [self.paths[i] for i in order], self.n_classes,
            self.image_size,
        )


def scale_boxes(boxes: np.ndarray, width: float, height: float, size: int) -> np.ndarray:
    """Boxes of an image of ``width`` x ``height`` pixels in the frame of its ``size`` x ``size`` resize.

    Args:
        boxes: float array of shape (n_boxes, 4), ``(x0, y0, x1, y1)`` in original pixels.
        width: Width of the original image.
        height: Height of the original image.
        size: Side of the resized square image.

    Returns:
        float64 array of shape (n_boxes, 4).

    Example:
        >>> scale_boxes(np.array([[10.0, 0.0, 20.0, 50.0]]), 100, 50, 64).tolist()
        [[6.4, 0.0, 12.8, 64.0]]
    """
    factor = np.array([size / width, size / height, size / width, size / height])
    return np.asarray(boxes, dtype=np.float64) * factor


def _first_per_class(labels: np.ndarray, n_per_class: int) -> np.ndarray:
    """Boolean mask of the first ``n_per_class`` rows of every class (in row order)."""
    mask = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        mask[np.flatnonzero(labels == label)[:n_per_class]] = True
    return mask


def _round_robin(labels: np.ndarray, n_rows: int) -> np.ndarray:
    """Row positions of the first ``n_rows`` rows taken one class at a time (all rows when ``n_rows`` is 0)."""
    if not n_rows or n_rows >= len(labels):
        return np.arange(len(labels))
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rank[rows] = np.arange(len(rows))
    order = np.lexsort((labels, rank))
    return np.sort(order[:n_rows])


class WsolTrack(Track):
    """Weakly supervised object localization: GT-known Loc, Top-1/5 Loc, MaxBoxAccV2, multi-object recall."""

    name = "wsol"
    description = "Weakly supervised object localization (CUB-200-2011 / ImageNet layouts)."
    metrics = {
        "gt_known_loc": True,
        "top1_loc": True,
        "max_box_acc_v2": True,
        "multi_recall": True,
        "top5_loc": True,
        "top1_cls": True,
        "multi_recall_multi": True,
        "max_box_acc_30": True,
        "max_box_acc_50": True,
        "max_box_acc_70": True,
    }
    budget_cls = WsolBudget
    budgets = {
        "smoke": {
            "time_limit_s": 120.0, "memory_limit_mb": 4096, "seeds": (0,), "image_size": 32,
            "classifier_epochs": 2, "localizer_epochs": 2, "batch_size": 16, "val_per_class": 1,
            "train_per_class": 4, "test_max_images": 20,
        },
        "default": {
            "time_limit_s": 600.0, "memory_limit_mb": 6144, "seeds": (0, 1, 2), "image_size": 64,
            "classifier_epochs": 14, "localizer_epochs": 10, "batch_size": 32, "val_per_class": 5,
        },
        "paper": {
            "time_limit_s": 14400.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda",
            "image_size": 224, "backbone": "resnet50", "feature_layer": "layer3", "classifier_epochs": 50,
            "localizer_epochs": 30, "batch_size": 64, "learning_rate": 1e-3, "val_per_class": 5,
        },
    }
    default_dataset = "synth_cub"
    budget_datasets = {"paper": "cub_200_2011"}
    has_figures = True

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Subsets present on disk (``all``)."""
        return list(load_target(card.subsets_lister)(root))

    @staticmethod
    def _index(root: Path, card: Any, subset: str) -> Any:
        return load_target(card.loader)(root, subset)

    @staticmethod
    def _split(index: Any, budget: WsolBudget) -> tuple[Any, Any, Any]:
        """(weak training rows, held-out rows with boxes, test rows) of the index.

        The held-out split is the first ``val_per_class`` boxed training images of each class. A dataset whose
        training images carry no boxes (ImageNet: boxes exist for the validation images only) takes them from the
        test images instead, and those images leave the test set, as Choe et al. hold out boxed images that are
        never scored.
        """
        images = index.images
        train = images[images["split"] == "train"].reset_index(drop=True)
        test = images[images["split"] == "test"].reset_index(drop=True)
        has_box = train["image_id"].map(lambda i: i in index.boxes).to_numpy(dtype=bool)
        if has_box.any():
            held = np.zeros(len(train), dtype=bool)
            held[has_box] = _first_per_class(train["label"].to_numpy()[has_box], budget.val_per_class)
            weak, held_rows = train[~held].reset_index(drop=True), train[held].reset_index(drop=True)
        else:
            test_box = test["image_id"].map(lambda i: i in index.boxes).to_numpy(dtype=bool)
            held = np.zeros(len(test), dtype=bool)
            held[test_box] = _first_per_class(test["label"].to_numpy()[test_box], budget.val_per_class)
            weak, held_rows = train, test[held].reset_index(drop=True)
            test = test[~held].reset_index(drop=True)
        if budget.train_per_class:
            weak = weak[_first_per_class(weak["label"].to_numpy(), budget.train_per_class)].reset_index(drop=True)
        test = test.iloc[_round_robin(test["label"].to_numpy(), budget.test_max_images)].reset_index(drop=True)
        return weak, held_rows, test

    @staticmethod
    def _boxes(index: Any, rows: Any, size: int, where: str) -> list[np.ndarray]:
        out = []
        for image_id, width, height, path in zip(rows["image_id"], rows["width"], rows["height"], rows["path"],
                                                 strict=True):
            if image_id not in index.boxes:
                msg = f"{where} image {path} (id {image_id}) has no box; every {where} image needs one."
                raise ParbenchError(msg)
            out.append(scale_boxes(index.boxes[image_id], width, height, size))
        return out

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> WsolTrain:
        """Weakly labelled training images and the held-out split with boxes."""
        from harness.data import read_images

        index = self._index(root, card, subset)
        weak, held, _ = self._split(index, budget)
        if len(weak) == 0 or len(held) == 0:
            msg = (
                f"{card.name}/{subset}: {len(weak)} weakly labelled and {len(held)} held-out training images; "
                f"val_per_class={budget.val_per_class} needs more training images per class."
            )
            raise ParbenchError(msg)
        return WsolTrain(
            images=read_images(weak["path"].tolist(), budget.image_size),
            labels=weak["label"].to_numpy(dtype=np.int64),
            class_names=tuple(index.class_names),
            val_images=read_images(held["path"].tolist(), budget.image_size),
            val_labels=held["label"].to_numpy(dtype=np.int64),
            val_boxes=self._boxes(index, held, budget.image_size, "held-out"),
        )

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> WsolImages:
        """Test images, without labels or boxes."""
        from harness.data import read_images

        _, _, test = self._split(self._index(root, card, subset), budget)
        return WsolImages(read_images(test["path"].tolist(), budget.image_size))

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> WsolTruth:
        """Labels and boxes (scaled to the ``image_size`` frame) of the test images."""
        index = self._index(root, card, subset)
        _, _, test = self._split(index, budget)
        return WsolTruth(
            labels=test["label"].to_numpy(dtype=np.int64),
            boxes=self._boxes(index, test, budget.image_size, "test"),
            paths=test["path"].tolist(),
            n_classes=index.n_classes,
            image_size=int(budget.image_size),
        )

    def validate(self, predictions: Predictions, truth: WsolTruth) -> None:
        """Finite arrays of the declared shapes; 1 <= n_boxes <= K; x0 <= x1 and y0 <= y1 in every used box."""
        n_images = len(truth)
        predictions.check("class_scores", shape=(n_images, truth.n_classes), kind="f")
        boxes = predictions.check("boxes", shape=(n_images, -1, 4), kind="f")
        n_max = boxes.shape[1]
        predictions.check("box_scores", shape=(n_images, n_max), kind="f")
        n_boxes = predictions.check("n_boxes", shape=(n_images,), kind="iu")
        predictions.check("maps", shape=(n_images, -1, -1), kind="f")
        if n_max == 0 or (n_boxes < 1).any() or (n_boxes > n_max).any():
            bad = int(np.flatnonzero((n_boxes < 1) | (n_boxes > n_max))[0]) if n_max else 0
            msg = (
                f"predictions['n_boxes'] must be in [1, {n_max}] (every image needs a box); "
                f"got {int(n_boxes[bad]) if len(n_boxes) else 'none'} at index {bad}."
            )
            raise InvalidPredictionError(msg)
        used = np.arange(n_max)[None, :] < n_boxes[:, None]
        flipped = used & ((boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1]))
        if flipped.any():
            i, j = map(int, np.argwhere(flipped)[0])
            msg = (
                f"predictions['boxes'][{i}, {j}] must be (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1; "
                f"got {boxes[i, j].tolist()}."
            )
            raise InvalidPredictionError(msg)

    @staticmethod
    def _parts(predictions: Predictions, truth: WsolTruth) -> tuple[np.ndarray, list, list, np.ndarray]:
        """(top boxes (n, 4), every image's boxes, their scores, maps at S) from the predictions, clipped."""
        from harness.tracks.anomaly.track import upsample_maps

        size = truth.image_size
        boxes = np.clip(predictions["boxes"].astype(np.float64), 0.0, float(size))
        scores = predictions["box_scores"].astype(np.float64)
        n_boxes = predictions["n_boxes"].astype(np.int64)
        per_image = [boxes[i, : n_boxes[i]] for i in range(len(boxes))]
        per_score = [scores[i, : n_boxes[i]] for i in range(len(boxes))]
        maps = upsample_maps(predictions["maps"], (size, size)).astype(np.float64)
        return boxes[:, 0], per_image, per_score, maps

    def item_results(self, predictions: Predictions, truth: WsolTruth) -> dict[str, np.ndarray]:
        """Per test image: box correct, class rank, matched boxes, true boxes, best IoU at every map threshold."""
        from harness.metrics import localization as loc

        top, per_image, per_score, maps = self._parts(predictions, truth)
        scores = predictions["class_scores"].astype(np.float64)
        true_score = scores[np.arange(len(scores)), truth.labels]
        rank = 1 + (scores >= true_score[:, None]).sum(axis=1) - 1
        iou = np.array([loc.box_iou(top[i : i + 1], truth.boxes[i]).max() for i in range(len(top))])
        return {
            "box_correct": (iou >= 0.5).astype(np.float64),
            "class_rank": rank.astype(np.int64),
            "matched": loc.multi_box_matches(per_image, per_score, truth.boxes).astype(np.float64),
            "n_gt": np.array([len(b) for b in truth.boxes], dtype=np.float64),
            "best_iou": loc.best_iou_per_threshold(maps, truth.boxes),
        }

    def evaluate(self, predictions: Predictions, truth: WsolTruth) -> dict[str, float]:
        """Every metric from the raw class scores, boxes and maps (maps upsampled to the image frame)."""
        from harness.metrics import localization as loc

        top, per_image, per_score, maps = self._parts(predictions, truth)
        scores = predictions["class_scores"].astype(np.float64)
        best = loc.best_iou_per_threshold(maps, truth.boxes)
        per_iou = loc.max_box_acc_per_iou(best)
        multi = np.array([len(b) >= 2 for b in truth.boxes])
        out = {
            "gt_known_loc": loc.corloc(top, truth.boxes),
            "top1_loc": loc.top_k_loc(top, scores, truth.boxes, truth.labels, k=1),
            "max_box_acc_v2": loc.max_box_acc_from_best(best),
            "multi_recall": loc.multi_box_recall(per_image, per_score, truth.boxes),
            "top5_loc": loc.top_k_loc(top, scores, truth.boxes, truth.labels, k=min(5, truth.n_classes)),
            "top1_cls": loc.top_k_accuracy(scores, truth.labels, k=1),
            "max_box_acc_30": per_iou[0.3],
            "max_box_acc_50": per_iou[0.5],
            "max_box_acc_70": per_iou[0.7],
        }
        if multi.any():
            out["multi_recall_multi"] = loc.multi_box_recall(
                [b for b, m in zip(per_image, multi, strict=True) if m],
                [s for s, m in zip(per_score, multi, strict=True) if m],
                [b for b, m in zip(truth.boxes, multi, strict=True) if m],
            )
        return out

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric on resamples of the test images (weights of shape (n_resamples, n_images))."""
        from harness.metrics import localization as loc

        weights = np.asarray(weights, dtype=np.float64)
        total = weights.sum(axis=1)

        def mean(values: np.ndarray) -> np.ndarray:
            return weights @ values / total

        correct = items["box_correct"]
        rank = items["class_rank"]
        n_classes_top5 = 5
        matched, n_gt = items["matched"], items["n_gt"]
        multi = (n_gt >= 2).astype(np.float64)
        best = items["best_iou"]
        out = {
            "gt_known_loc": mean(correct),
            "top1_loc": mean(correct * (rank <= 1)),
            "top5_loc": mean(correct * (rank <= n_classes_top5)),
            "top1_cls": mean((rank <= 1).astype(np.float64)),
            "multi_recall": (weights @ matched) / (weights @ n_gt),
            "max_box_acc_v2": loc.max_box_acc_resampled(best, weights),
        }
        if multi.any():  # a dataset of one object per image (CUB) has no multi-object recall
            with np.errstate(invalid="ignore", divide="ignore"):
                out["multi_recall_multi"] = (weights @ (matched * multi)) / (weights @ (n_gt * multi))
        for delta, name in ((0.3, "max_box_acc_30"), (0.5, "max_box_acc_50"), (0.7, "max_box_acc_70")):
            out[name] = loc.max_box_acc_resampled(best, weights, iou_thresholds=(delta,))
        return out

    def diagnostics(self, predictions: Predictions, truth: WsolTruth) -> dict[str, np.ndarray]:
        """BoxAcc at IoU 0.5 of every map threshold (``box_acc_curve``, 100 points)."""
        from harness.metrics import localization as loc

        _, _, _, maps = self._parts(predictions, truth)
        best = loc.best_iou_per_threshold(maps, truth.boxes)
        return {"box_acc_curve": (best >= 0.5).mean(axis=0)}

    #: The first table: GT-known Loc, Top-1 Loc, MaxBoxAccV2, multi-object recall (then the costs).
    headline_metrics = ("gt_known_loc", "top1_loc", "max_box_acc_v2", "multi_recall")

    def save_figure(self, predictions: Predictions, truth: WsolTruth, path: Path, *, title: str) -> None:
        """Write a PNG panel: test images with true and predicted boxes, and the method's score maps."""
        from harness.tracks.wsol.figures import panel

        panel(predictions, truth, path, title=title)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """BoxAcc (IoU 0.5) against the map threshold, one line per method (mean over seeds)."""
        from harness.tracks.wsol.figures import box_acc_curves

        return box_acc_curves(rows, out_dir, diagnostics or {})
