"""The ``earlyexit`` track: early-exit vision transformers, accuracy against measured speed-up.

The track: :mod:`~harness.tracks.earlyexit.track` (:class:`EarlyExitTrack`, its budget, presets in
:mod:`~.presets`, data contract), :mod:`~.scoring` (metrics from the raw predictions), :mod:`~.figures`.
The shared backbone: :mod:`~.backbone` (a timm ViT, cut into an :class:`ExitNet`, trained once per seed) and
:mod:`~.backbone_cache`; :mod:`~.training` (input pipeline and optimiser loop). The methods' base class:
:mod:`~.method` (:class:`EarlyExitMethod`: methods train exits, the harness predicts and measures them, with
:mod:`~.measure`); the exit rules and threshold grids: :mod:`~.grids`.

Data: :mod:`~harness.tracks.earlyexit.cifar` (CIFAR-10 and CIFAR-100 in the python pickle layout, loaders and
writer), :mod:`~harness.tracks.earlyexit.image_folder` (any ``train/<class>``, ``val/<class>`` layout), both into
the :class:`ImageClassIndex` of :mod:`~harness.tracks.earlyexit._index`; the embedded defaults written in the
CIFAR-10 layout: :mod:`~harness.tracks.earlyexit.synth` (ten shape, colour and texture classes with a spread of
difficulty) and :mod:`~harness.tracks.earlyexit.sklearn_digits` (scikit-learn's digits, upscaled).

Measurement: :mod:`~harness.tracks.earlyexit.exit_rules` (confidence, entropy, patience, patience and
confidence), :mod:`~harness.tracks.earlyexit.prefix` (a backbone cut at its exits), :mod:`~.flops` (FLOPs per
image of every prefix), :mod:`~.timing` (measured seconds per image of every prefix), :mod:`~.sweep` (the
threshold sweep and its curve summary); the generic metrics are in :mod:`harness.metrics.early_exit` and
:mod:`harness.metrics.curves`.

The torch-based names (:class:`ExitNet`, :func:`exit_flops`, :func:`exit_seconds`, ...) load on first access,
so reading a dataset or a card imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.tracks.earlyexit._index import INDEX_COLUMNS, SPLITS, ImageClassIndex
from harness.tracks.earlyexit.exit_rules import (
    confidence_exit,
    entropy_exit,
    patience_confidence_exit,
    patience_exit,
    softmax_entropy,
)
from harness.tracks.earlyexit.grids import RULES, sweep_exits, threshold_grid
from harness.tracks.earlyexit.sweep import ExitCosts, sweep_summary, sweep_table
from harness.tracks.earlyexit.track import (
    EarlyExitBudget,
    EarlyExitImages,
    EarlyExitTrack,
    EarlyExitTrain,
    EarlyExitTruth,
)

#: Names defined in modules that import torch, loaded on first access: name -> module.
_LAZY = {
    "BackboneSpec": "backbone",
    "EarlyExitMethod": "method",
    "SharedBackbone": "backbone",
    "ExitFlops": "flops",
    "ExitNet": "prefix",
    "ExitSeconds": "timing",
    "count_flops": "flops",
    "exit_flops": "flops",
    "exit_seconds": "timing",
    "forward_full": "prefix",
    "forward_single_exit": "prefix",
    "forward_to_exit": "prefix",
    "make_exit_net": "backbone",
    "median_seconds": "timing",
}

__all__ = [
    "INDEX_COLUMNS",
    "RULES",
    "SPLITS",
    "BackboneSpec",
    "EarlyExitBudget",
    "EarlyExitImages",
    "EarlyExitMethod",
    "EarlyExitTrack",
    "EarlyExitTrain",
    "EarlyExitTruth",
    "ExitCosts",
    "ExitFlops",
    "ExitNet",
    "ExitSeconds",
    "ImageClassIndex",
    "SharedBackbone",
    "confidence_exit",
    "count_flops",
    "entropy_exit",
    "exit_flops",
    "exit_seconds",
    "forward_full",
    "forward_single_exit",
    "forward_to_exit",
    "make_exit_net",
    "median_seconds",
    "patience_confidence_exit",
    "patience_exit",
    "softmax_entropy",
    "sweep_exits",
    "sweep_summary",
    "sweep_table",
    "threshold_grid",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
