"""The ``earlyexit`` track: early-exit vision transformers, accuracy against measured speed-up.

Protocol. One backbone per budget and seed: a small timm ViT trained by the track on the training part of the
split (the CPU budgets), or a ViT/DeiT from a local checkpoint fine-tuned there (the paper budget, ``--weights
PATH``); it is trained once and kept in the cache of derived files (``--cache``, never the dataset folder;
:mod:`~harness.tracks.earlyexit.backbone_cache`), so every method of a grid starts from the same weights. Each
method then trains its exits for the budget's ``head_steps`` per training stage
(:class:`~harness.tracks.earlyexit.method.EarlyExitMethod`).

Data contract:

- ``load_train`` returns :class:`EarlyExitTrain`: the training images and labels, the validation part carved out
  of the training split (``val_per_class`` images of each class, the same for every seed; the backbone never
  trains on it), the class names and the shared backbone of the job's seed. The backbone is trained (or loaded)
  here, inside the job but outside ``fit_s``.
- ``load_test_inputs`` returns :class:`EarlyExitImages` (images only, in a seeded random order); ``load_truth``
  returns :class:`EarlyExitTruth` (labels; runner's process only).
- Predictions (written by the harness's ``predict``, :mod:`~harness.tracks.earlyexit.method`): ``exit_logits``
  float (n_exits, n_images, n_classes); ``exit_layers`` int (n_thresholds, n_images); ``thresholds``, ``rule``,
  ``patience``, ``exit_depths``; ``exit_scores`` (learned policies); the measured costs ``flops_exit``,
  ``flops_full``, ``seconds_exit_bs1``, ``seconds_full_bs1``, ``seconds_exit_batch``, ``seconds_full_batch``.
  The track recomputes the exits from the logits with the method's rule and refuses any disagreement.

Metrics (:mod:`~harness.tracks.earlyexit.scoring`): the main one, ``auc_accuracy_speedup``, is the mean
accuracy over speed-ups 1x to ``max_speedup`` (budget field, 0 past the method's fastest operating point) of
the curve of accuracy against the **measured wall-clock speed-up at batch size 1** (the latency a sample sees,
what per-sample early exiting is for), timed by the harness on the job's device with the budget's threads;
then accuracy at 1.5x and 2x, the speed-up that keeps the full model's accuracy minus one point, the fastest
operating point, the same five for FLOPs (``_flops``) and for measured time at the budget's batch size
(``_batch``), and the accuracy of the method's last exit (``final_accuracy``). Measured-time metrics are left
out of the regression reference (:attr:`EarlyExitTrack.hardware_metrics`): they belong to the machine.
Every metric is resampled over test images for the leaderboard's intervals. Diagnostics: the sweep table, the
accuracy of every exit and the measured costs, drawn by :meth:`EarlyExitTrack.leaderboard_figures`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.data import LabelFreeImages
from harness.errors import BudgetError, ParbenchError
from harness.options import option
from harness.registry import load_target
from harness.tracks.earlyexit import scoring
from harness.tracks.earlyexit.presets import BUDGETS

__all__ = ["EarlyExitBudget", "EarlyExitImages", "EarlyExitTrack", "EarlyExitTrain", "EarlyExitTruth"]


@dataclass(frozen=True)
class EarlyExitBudget(Budget):
    """Budget of the earlyexit track: one backbone and schedule, one timing protocol for every method."""

    backbone: str = option("vit", "'vit': a timm VisionTransformer of the size fields below, trained from random "
                           "init; or the timm name of a ViT/DeiT (e.g. deit_small_patch16_224) loaded from --weights.",
                           non_empty=True)
    image_size: int = option(32, "Side of the network's square input, in pixels (images are resized to it).", ge=8)
    patch_size: int = option(4, "Patch side of a 'vit' backbone, in pixels.", ge=1)
    embed_dim: int = option(96, "Token width of a 'vit' backbone.", ge=8)
    depth: int = option(6, "Transformer blocks of a 'vit' backbone.", ge=2)
    num_heads: int = option(3, "Attention heads per block of a 'vit' backbone.", ge=1)
    mlp_ratio: float = option(2.0, "MLP width over the token width of a 'vit' backbone.", gt=0)
    backbone_steps: int = option(1200, "Optimiser steps of the shared backbone (from random init or the checkpoint).",
                                 ge=0)
    backbone_learning_rate: float = option(1e-3, "Peak AdamW learning rate of the shared backbone.", gt=0)
    head_steps: int = option(300, "Optimiser steps of each training stage of a method (LGViT has two).", ge=0)
    head_learning_rate: float = option(1e-3, "Peak learning rate of stages that train exits on a frozen backbone.",
                                       gt=0)
    finetune_learning_rate: float = option(2e-4, "Peak learning rate of stages that also update the backbone.",
                                           gt=0)
    weight_decay: float = option(0.05, "AdamW weight decay of every training.", ge=0)
    batch_size: int = option(64, "Batch size of training, of batched prediction and of the batched timing.", ge=1)
    augment: bool = option(True, "Random crop (4 px reflection padding) and horizontal flip while training.")
    val_per_class: int = option(20, "Training images per class held out as the validation part.", ge=0)
    train_images: int = option(0, "Training images used (the first of each class in turn); 0 = all.", ge=0)
    test_images: int = option(0, "Test images scored (the first of each class in turn); 0 = all.", ge=0)
    timing_threads: int = option(1, "CPU threads while timing (torch.set_num_threads).", ge=1)
    timing_warmup: int = option(3, "Untimed calls of each prefix before timing.", ge=0)
    timing_repeats: int = option(10, "Timed rounds of every prefix; the median is kept.", ge=1)
    max_speedup: float = option(
        2.5, "End of the speed-up range [1, max_speedup] of the areas: the range early-exit papers report (LGViT: "
        "1.3x to 2.5x), inside the FLOPs reach of every method (exits from a third of the depth reach about 2.7x).",
        gt=1)


@dataclass
class EarlyExitImages(LabelFreeImages):
    """Test images, no labels.

    Attributes:
        images: uint8 array of shape (n_images, H, W, 3), RGB.
    """


@dataclass
class EarlyExitTrain:
    """What a method learns from.

    Attributes:
        images: uint8 array of shape (n_train, H, W, 3), the training part (the backbone trained on it).
        labels: int64 array of shape (n_train,), in ``[0, n_classes)``.
        val_images: uint8 array of shape (n_val, H, W, 3), the validation part carved out of the training split.
        val_labels: int64 array of shape (n_val,).
        class_names: Name of each class.
        backbone: The trained backbone of the job's seed
            (:class:`~harness.tracks.earlyexit.backbone.SharedBackbone`).
    """

    images: np.ndarray
    labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    class_names: tuple[str, ...]
    backbone: Any

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


@dataclass
class EarlyExitTruth:
    """Test truth (runner's process only).

    Attributes:
        labels: int64 array of shape (n_images,).
        n_classes: Number of classes.
        depth: Blocks of the backbone (the last exit's depth).
        max_speedup: End of the speed-up range of the areas.
    """

    labels: np.ndarray
    n_classes: int
    depth: int
    max_speedup: float

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> EarlyExitTruth:
        """The truth in ``order`` (int array of shape (n_images,))."""
        return EarlyExitTruth(self.labels[order], self.n_classes, self.depth, self.max_speedup)


def _round_robin(labels: np.ndarray, n_rows: int) -> np.ndarray:
    """Positions of the first ``n_rows`` rows taken one class at a time, sorted (all rows when ``n_rows`` is 0)."""
    if not n_rows or n_rows >= len(labels):
        return np.arange(len(labels))
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        rank[rows] = np.arange(len(rows))
    return np.sort(np.lexsort((labels, rank))[:n_rows])


def split_rows(labels: np.ndarray, budget: EarlyExitBudget) -> tuple[np.ndarray, np.ndarray]:
    """(training part, validation part): positions in the training split, each sorted.

    The validation part is ``val_per_class`` images of each class drawn with a fixed seed (the same for every job
    seed and method); ``train_images`` then keeps the first of each class in turn of the rest.
    """
    rng = np.random.default_rng(20230801)
    held = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        held[rng.permutation(rows)[: budget.val_per_class]] = True
    rest = np.flatnonzero(~held)
    return rest[_round_robin(labels[rest], budget.train_images)], np.flatnonzero(held)


class EarlyExitTrack(Track):
    """Early-exit ViTs: accuracy against measured speed-up (area, accuracy at 1.5x and 2x, speed-up at -1 point)."""

    name = "earlyexit"
    description = "Early-exit vision transformers (CIFAR-10/100, ImageFolder layouts): accuracy against speed-up."
    metrics = {name: True for name in scoring.metric_names()}
    budget_cls = EarlyExitBudget
    budgets = BUDGETS
    default_dataset = "synth_cifar10"
    budget_datasets = {"paper": "cifar100"}
    #: The first table: the area and the points of the measured curve at batch size 1, and the FLOPs area.
    headline_metrics = ("auc_accuracy_speedup", "accuracy_at_1p5x", "accuracy_at_2x", "speedup_at_full_minus_1pt",
                        "final_accuracy", "auc_accuracy_speedup_flops")
    #: Metrics of measured wall-clock time: hardware-dependent, never written to the regression reference.
    hardware_metrics = tuple(f"{name}{suffix}" for _, _, suffix in (scoring.COSTS["bs1"], scoring.COSTS["batch"])
                             for name in scoring.SUMMARY_NAMES)
    tolerance = 0.03

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Subsets present on disk (``all``)."""
        return list(load_target(card.subsets_lister)(root))

    def grid_subsets(self, root: Path, card: Any, budget: Budget) -> list[str]:
        """The subsets, after checking once per grid that a named architecture comes with its checkpoint."""
        from harness.backbones import is_random

        if budget.backbone != "vit" and is_random(budget.weights):
            msg = (
                f"budget {budget.name!r} of track 'earlyexit' names backbone {budget.backbone!r}, whose weights come "
                f"from a local checkpoint: pass --weights PATH (a {budget.backbone} state dict, .pth or .safetensors);"
                " nothing is downloaded."
            )
            raise BudgetError(msg)
        return self.subsets(root, card)

    @staticmethod
    def _index(root: Path, card: Any, subset: str) -> Any:
        return load_target(card.loader)(root, subset)

    @staticmethod
    def _read(index: Any, split: str, budget: EarlyExitBudget) -> np.ndarray:
        """Pixels of a split: an array dataset at its stored size, image files at the budget's ``image_size``."""
        return index.read(split, size=None if index.pixels is not None else budget.image_size)

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> EarlyExitTrain:
        """Training and validation parts, and the shared backbone of ``seed`` (trained here once, then cached)."""
        index = self._index(root, card, subset)
        labels = index.labels("train")
        train_rows, val_rows = split_rows(labels, budget)
        if len(np.unique(labels[train_rows])) < index.n_classes:
            msg = (
                f"{card.name}/{subset}: after holding out val_per_class={budget.val_per_class} images per class, some "
                f"class has no training image left; lower val_per_class or raise train_images."
            )
            raise ParbenchError(msg)
        pixels = self._read(index, "train", budget)
        images, train_labels = pixels[train_rows], labels[train_rows]
        backbone = self._backbone(root, card.name, subset, budget, seed, images, train_labels, index.n_classes,
                                  pixels[val_rows], labels[val_rows])
        return EarlyExitTrain(images, train_labels, pixels[val_rows], labels[val_rows], tuple(index.class_names),
                              backbone)

    def _backbone(self, root: Path, dataset: str, subset: str, budget: EarlyExitBudget, seed: int,
                  images: np.ndarray, labels: np.ndarray, n_classes: int, val_images: np.ndarray,
                  val_labels: np.ndarray) -> Any:
        import dataclasses

        import torch

        from harness.cards import dataset_fingerprint
        from harness.tracks.earlyexit import backbone as bb
        from harness.tracks.earlyexit.backbone_cache import backbone_folder, cached_state

        log = logging.getLogger("parbench.job")
        device = budget.device
        if device == "cuda" and not torch.cuda.is_available():
            msg = f"budget {budget.name!r} trains its backbone on cuda, but no CUDA device is available here."
            raise BudgetError(msg)
        spec = bb.backbone_spec(budget, n_classes)
        fields = ("backbone_steps", "backbone_learning_rate", "weight_decay", "batch_size", "augment",
                  "val_per_class", "train_images", "device")
        fingerprint = dataset_fingerprint(root)
        payload = {
            "spec": dataclasses.asdict(spec), "weights": budget.weights_id(), "fingerprint": fingerprint,
            "subset": subset, "seed": int(seed), **{f: getattr(budget, f) for f in fields},
        }
        folder = backbone_folder(dataset, subset, fingerprint, cache_root=self.cache_root)
        state = cached_state(folder, payload, lambda: bb.train_backbone(
            spec, images, labels, budget=budget, seed=seed, device=device, log=log), log=log)
        shared = bb.SharedBackbone(spec, state, float("nan"))
        shared.val_accuracy = bb.classifier_accuracy(shared, val_images, val_labels, batch_size=budget.batch_size,
                                                     device=device)
        log.info("shared backbone of seed %d: validation accuracy %.4f", seed, shared.val_accuracy)
        return shared

    def _test_rows(self, index: Any, budget: EarlyExitBudget) -> np.ndarray:
        return _round_robin(index.labels("test"), budget.test_images)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *,
                         seed: int = 0) -> EarlyExitImages:
        """Test images, without labels."""
        index = self._index(root, card, subset)
        return EarlyExitImages(self._read(index, "test", budget)[self._test_rows(index, budget)])

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> EarlyExitTruth:
        """Labels of the test images, the backbone's depth and the speed-up range."""
        index = self._index(root, card, subset)
        labels = index.labels("test")[self._test_rows(index, budget)]
        depth = budget.depth if budget.backbone == "vit" else _named_depth(budget.backbone)
        return EarlyExitTruth(labels, index.n_classes, int(depth), float(budget.max_speedup))

    def validate(self, predictions: Predictions, truth: EarlyExitTruth) -> None:
        """Shapes, the rule's threshold grid, exits recomputed from the logits, positive costs."""
        scoring.check_predictions(predictions, n_items=len(truth), n_classes=truth.n_classes, depth=truth.depth)

    def item_results(self, predictions: Predictions, truth: EarlyExitTruth) -> dict[str, np.ndarray]:
        """Per test image: right at each exit, right at the exit taken at each threshold, relative cost of that exit.

        ``max_speedup`` (the budget's speed-up range, the same for every image) rides along, so that the
        leaderboard's resamples read the same range as :meth:`evaluate`.
        """
        items = scoring.sweep_items(predictions, truth.labels)
        items["max_speedup"] = np.full(len(truth), truth.max_speedup)
        return items

    def evaluate(self, predictions: Predictions, truth: EarlyExitTruth) -> dict[str, float]:
        """Every metric, from the per-image arrays with every image counted once."""
        items = scoring.sweep_items(predictions, truth.labels)
        values = scoring.sweep_metrics(items, np.ones((1, len(truth))), max_speedup=truth.max_speedup)
        return {name: float(v[0]) for name, v in values.items()}

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric on resamples of the test images (weights of shape (n_resamples, n_images))."""
        return scoring.sweep_metrics(items, weights, max_speedup=float(items["max_speedup"][0]))

    def diagnostics(self, predictions: Predictions, truth: EarlyExitTruth) -> dict[str, np.ndarray]:
        """The sweep table's columns (``sweep_*``), every exit's accuracy and depth, the measured costs."""
        from harness.tracks.earlyexit.figures import sweep_diagnostics

        return sweep_diagnostics(predictions, truth.labels)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Accuracy against measured speed-up (batch size 1) and against FLOPs speed-up, one curve per method."""
        from harness.tracks.earlyexit.figures import speedup_curves

        return speedup_curves(rows, out_dir, diagnostics or {})


def _named_depth(arch: str) -> int:
    """Blocks of a named timm ViT (built on the meta device: no memory, no weights)."""
    import timm
    import torch

    with torch.device("meta"):
        return len(timm.create_model(arch, pretrained=False).blocks)
