"""The ``prompt`` track: prompt learning on a frozen CLIP, few-shot and base-to-novel.

Protocol. One frozen CLIP per budget: the tiny open_clip model the track pre-trains on synthetic captions (the CPU
budgets, :mod:`~harness.tracks.prompt.clip`) or an open_clip architecture from a local checkpoint (``--set
model=ViT-B-16 --set weights=PATH``). Each dataset's subsets are the shot counts ``shots1`` .. ``shots16``: a job
draws ``k`` training images per class from the split file's ``train`` list with a generator seeded by (seed,
``k``), the same images for every method, and each method trains twice: on those images of every class (the
few-shot protocol of CoOp) and on those of the base classes only (the first half of the labels, rounded up, as
CoCoOp's ``subsample_classes``). No validation data is used (no model selection).

Data contract:

- ``load_train`` returns :class:`PromptTrain` (images, labels, class names, ``n_base``, the hand-written template
  and the :class:`~harness.tracks.prompt.clip.FrozenClip`; the tiny CLIP is pre-trained or loaded here, inside the
  job but outside ``fit_s``).
- ``load_test_inputs`` returns :class:`PromptImages` (the ``test`` images, in a seeded random order);
  ``load_truth`` returns :class:`PromptTruth` (labels and ``n_base``; runner's process only).
- Predictions: ``logits`` float (n_images, n_classes) from the few-shot model, ``b2n_logits`` float (n_images,
  n_classes) from the base-class model, scored over every class name.

Metrics (:mod:`~harness.tracks.prompt.scoring`): ``harmonic_mean`` of base and novel accuracy (the main one),
``accuracy`` (few-shot, all classes), ``base_accuracy``, ``novel_accuracy``; the leaderboard's mean over subsets is
the mean over shot counts. Every metric is resampled over test images for the intervals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.data import LabelFreeImages
from harness.errors import BudgetError, InvalidPredictionError
from harness.options import option
from harness.registry import load_target
from harness.tracks.prompt import scoring
from harness.tracks.prompt.loaders import SHOT_SUBSETS, shots_of
from harness.tracks.prompt.presets import BUDGETS

__all__ = ["PromptBudget", "PromptImages", "PromptTrack", "PromptTrain", "PromptTruth", "draw_shots"]


@dataclass(frozen=True)
class PromptBudget(Budget):
    """Budget of the prompt track: one frozen CLIP and one prompt-training schedule for every method."""

    model: str = option("tiny", "'tiny': the small open_clip CLIP pre-trained by the track on synthetic captions; or "
                        "an open_clip architecture (e.g. ViT-B-16) loaded from --set weights=PATH.", non_empty=True)
    image_size: int = option(32, "Side of the model's square input, in pixels (images are resized to it).", ge=8)
    context_length: int = option(20, "Tokens per text of the tiny CLIP (a real model keeps its own).", ge=8)
    tiny_patch_size: int = option(8, "Patch side of the tiny CLIP's image transformer, in pixels.", ge=1)
    tiny_width: int = option(96, "Token width of both towers of the tiny CLIP (a multiple of 32).", ge=32)
    tiny_layers: int = option(3, "Blocks of the tiny CLIP's image transformer.", ge=1)
    tiny_text_layers: int = option(2, "Blocks of the tiny CLIP's text transformer.", ge=1)
    tiny_embed_dim: int = option(64, "Width of the tiny CLIP's joint embedding.", ge=8)
    pretrain_pairs: int = option(6000, "Synthetic image-caption pairs the tiny CLIP is pre-trained on.", ge=16)
    pretrain_steps: int = option(800, "Optimiser steps of the tiny CLIP's contrastive pre-training.", ge=0)
    pretrain_batch_size: int = option(128, "Pairs per pre-training step.", ge=2)
    pretrain_learning_rate: float = option(2e-3, "Peak AdamW learning rate of the pre-training.", gt=0)
    pretrain_seed: int = option(0, "Seed of the pre-training pairs and of the tiny CLIP's initialisation.", ge=0)
    steps: int = option(100, "Optimiser steps of every prompt training (each method trains twice per job).", ge=0)
    batch_size: int = option(16, "Training images per prompt step.", ge=1)
    learning_rate: float = option(2e-3, "Peak learning rate of the prompt training (AdamW, cosine decay).", gt=0)
    prompt_depth: int = option(9, "Layers that receive deep prompts (MaPLe, AMMPL), capped at the towers' depth.",
                               ge=1)
    template: str = option("a photo of a {}.", "Hand-written template of the zero-shot classifier and of the "
                           "context initialisation ('{}' is the class name).", non_empty=True)
    test_per_class: int = option(0, "Test images scored per class (the first in split-file order); 0 = all.", ge=0)


@dataclass
class PromptImages(LabelFreeImages):
    """Test images, no labels.

    Attributes:
        images: uint8 array of shape (n_images, H, W, 3), RGB.
    """


@dataclass
class PromptTrain:
    """What a method learns from.

    Attributes:
        images: uint8 array of shape (n_classes * shots, H, W, 3): the shots of every class.
        labels: int64 array of shape (n_train,), in ``[0, n_classes)``.
        class_names: Name of each class (the split file's names).
        n_base: Base classes: labels ``0 .. n_base - 1``; the others are novel.
        template: The hand-written prompt template (``"a photo of a {}."``).
        clip: The frozen :class:`~harness.tracks.prompt.clip.FrozenClip`.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    n_base: int
    template: str
    clip: Any

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)


@dataclass
class PromptTruth:
    """Test truth (runner's process only).

    Attributes:
        labels: int64 array of shape (n_images,).
        n_classes: Number of classes.
        n_base: Base classes (labels below it).
    """

    labels: np.ndarray
    n_classes: int
    n_base: int

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> PromptTruth:
        """The truth in ``order`` (int array of shape (n_images,))."""
        return PromptTruth(self.labels[order], self.n_classes, self.n_base)


def draw_shots(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """Rows of ``shots`` training images per class, drawn without replacement with a generator seeded by (seed, shots).

    A class with fewer images gives all of them. Returns a sorted int64 array; the same for every method.

    Example:
        >>> draw_shots(np.array([0, 0, 1, 1, 1]), 1, 0).shape
        (2,)
    """
    rng = np.random.default_rng([seed, shots])
    rows = [rng.permutation(np.flatnonzero(labels == c))[:shots] for c in np.unique(labels)]
    return np.sort(np.concatenate(rows)).astype(np.int64)


def _first_per_class(labels: np.ndarray, n_per_class: int) -> np.ndarray:
    if not n_per_class:
        return np.arange(len(labels))
    keep = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        keep[np.flatnonzero(labels == c)[:n_per_class]] = True
    return np.flatnonzero(keep)


class PromptTrack(Track):
    """Prompt learning on a frozen CLIP: base-to-novel harmonic mean, few-shot accuracy per shot count."""

    name = "prompt"
    description = "Prompt learning on a frozen CLIP (CoOp split-file layouts): few-shot and base-to-novel."
    metrics = dict(scoring.METRICS)
    budget_cls = PromptBudget
    budgets = BUDGETS
    default_dataset = "synth_prompt"
    budget_datasets = {"paper": "eurosat"}
    budget_subsets = {"smoke": ("shots2",)}
    headline_metrics = ("harmonic_mean", "base_accuracy", "novel_accuracy", "accuracy")
    tolerance = 0.05

    def subsets(self, root: Path, card: Any) -> list[str]:
        """The shot subsets, when the dataset is on disk."""
        return list(load_target(card.subsets_lister)(root)) or list(SHOT_SUBSETS)

    def grid_subsets(self, root: Path, card: Any, budget: Budget) -> list[str]:
        """The subsets, after checking once per grid that the dataset reads and a real model has its checkpoint."""
        from harness.backbones import is_random

        if budget.model != "tiny" and is_random(budget.weights):
            msg = (f"budget {budget.name!r} of track 'prompt' names model {budget.model!r}, whose weights come from a "
                   "local checkpoint: pass --set weights=PATH (an open_clip checkpoint); nothing is downloaded.")
            raise BudgetError(msg)
        load_target(card.loader)(root)
        return self.subsets(root, card)

    @staticmethod
    def _index(root: Path, card: Any, subset: str) -> Any:
        shots_of(subset)
        return load_target(card.loader)(root, subset)

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> PromptTrain:
        """The shots of every class and the frozen CLIP (pre-trained here once, then cached)."""
        index = self._index(root, card, subset)
        labels = index.labels["train"]
        rows = draw_shots(labels, shots_of(subset), seed)
        clip = self._clip(budget)
        images = index.read("train", rows, clip.image_size)
        n_base = (index.n_classes + 1) // 2
        return PromptTrain(images, labels[rows], index.class_names, n_base, budget.template, clip)

    def _clip(self, budget: PromptBudget) -> Any:
        from harness.tracks.prompt.frozen import load_frozen_clip

        return load_frozen_clip(budget, cache_root=self.cache_root, log=logging.getLogger("parbench.job"))

    def _test_rows(self, index: Any, budget: PromptBudget) -> np.ndarray:
        return _first_per_class(index.labels["test"], budget.test_per_class)

    def _image_size(self, budget: PromptBudget) -> int:
        return budget.image_size

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> PromptImages:
        """Test images, without labels."""
        index = self._index(root, card, subset)
        return PromptImages(index.read("test", self._test_rows(index, budget), self._image_size(budget)))

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> PromptTruth:
        """Labels of the test images and the number of base classes."""
        index = self._index(root, card, subset)
        labels = index.labels["test"][self._test_rows(index, budget)]
        return PromptTruth(labels, index.n_classes, (index.n_classes + 1) // 2)

    def validate(self, predictions: Predictions, truth: PromptTruth) -> None:
        """Both score arrays of shape (n_images, n_classes), finite floats."""
        for name in ("logits", "b2n_logits"):
            predictions.check(name, shape=(len(truth), truth.n_classes), kind="f")
        if truth.n_base >= truth.n_classes:
            msg = f"the dataset has {truth.n_classes} classes; base-to-novel needs at least 2."
            raise InvalidPredictionError(msg)

    def evaluate(self, predictions: Predictions, truth: PromptTruth) -> dict[str, float]:
        """Harmonic mean, few-shot accuracy, base and novel accuracy (:func:`scoring.prompt_metrics`)."""
        return scoring.prompt_metrics(predictions["logits"], predictions["b2n_logits"], truth.labels, truth.n_base)

    def item_results(self, predictions: Predictions, truth: PromptTruth) -> dict[str, np.ndarray]:
        """Per test image: right under each model, and whether its class is a base class."""
        return scoring.base_novel_items(predictions["logits"], predictions["b2n_logits"], truth.labels, truth.n_base)

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric on resamples of the test images (weights of shape (n_resamples, n_images))."""
        return scoring.item_metrics(items, weights)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Accuracy and harmonic mean against shots per class, one curve per method."""
        from harness.tracks.prompt.figures import shot_curves

        return shot_curves(rows, out_dir)
