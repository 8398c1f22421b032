"""Tiny in-memory early-exit data for method tests: three classes of coloured patterns, a 3-block ViT of width 16."""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch

from harness.api import Context
from harness.tracks.earlyexit import EarlyExitImages, EarlyExitTrack, EarlyExitTrain, EarlyExitTruth
from harness.tracks.earlyexit import backbone as bb

SEED = 0
N_CLASSES = 3
SIDE = 16
#: Budget fields of the tiny runs: 16 px images, 4 px patches (16 tokens), 3 blocks of width 16.
TINY = {
    "image_size": SIDE, "patch_size": 4, "embed_dim": 16, "depth": 3, "num_heads": 2, "mlp_ratio": 2.0,
    "backbone_steps": 30, "head_steps": 6, "batch_size": 8, "val_per_class": 2, "timing_warmup": 0,
    "timing_repeats": 2,
}


def tiny_budget(**overrides):
    """The smoke budget shrunk to :data:`TINY`."""
    return EarlyExitTrack().budget("smoke", **{**TINY, **overrides})


def patterns(n_per_class: int, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (n, 16, 16, 3), int64 labels (n,)): a class colour on noise, some images faint (hard)."""
    rng = np.random.default_rng([seed, 5])
    images, labels = [], []
    for label in range(N_CLASSES):
        colour = np.zeros(3)
        colour[label] = 200
        for _ in range(n_per_class):
            strength = rng.uniform(0.15, 1.0)
            mask = rng.random((SIDE, SIDE, 1)) < 0.6
            image = rng.normal(90, 30, (SIDE, SIDE, 3)) + strength * colour[None, None, :] * mask
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    order = rng.permutation(len(labels))
    return np.stack(images)[order], np.array(labels, dtype=np.int64)[order]


@functools.lru_cache(maxsize=2)
def _backbone(seed: int) -> bb.SharedBackbone:
    images, labels = patterns(10, seed=seed)
    budget = tiny_budget()
    spec = bb.backbone_spec(budget, N_CLASSES)
    state = bb.train_backbone(spec, images, labels, budget=budget, seed=seed, device="cpu")
    return bb.SharedBackbone(spec, state, float("nan"))


def tiny_train(seed: int = SEED) -> EarlyExitTrain:
    """30 training images, 6 validation images and the trained tiny backbone of ``seed``."""
    images, labels = patterns(10, seed=seed)
    val_images, val_labels = patterns(2, seed=seed + 100)
    backbone = _backbone(seed)
    copy = bb.SharedBackbone(backbone.spec, {k: v.clone() for k, v in backbone.state.items()}, backbone.val_accuracy)
    return EarlyExitTrain(images, labels, val_images, val_labels, ("r", "g", "b"), copy)


def tiny_test(seed: int = SEED) -> tuple[EarlyExitImages, EarlyExitTruth]:
    """12 test images and their truth (depth 3, speed-up range up to 3x)."""
    images, labels = patterns(4, seed=seed + 200)
    return EarlyExitImages(images), EarlyExitTruth(labels, N_CLASSES, TINY["depth"], 3.0)


def context(seed: int = SEED) -> Context:
    """A CPU context with one thread."""
    return Context(seed=seed, device="cpu", log=logging.getLogger("test.earlyexit"), n_threads=1)


def fit_predict(method_cls, config=None, *, seed: int = SEED, **budget_overrides):
    """(method, predictions) of one tiny run; the predictions pass the track's checks."""
    torch.manual_seed(seed)
    method = method_cls(method_cls.make_config(config or {}))
    method.fit(tiny_train(seed), tiny_budget(**budget_overrides), context(seed))
    inputs, truth = tiny_test(seed)
    predictions = method.predict(inputs)
    EarlyExitTrack().validate(predictions, truth)
    return method, predictions
