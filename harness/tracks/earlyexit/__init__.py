"""The ``earlyexit`` track (data and measurement side): early-exit vision transformers, accuracy against speed-up.

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
from harness.tracks.earlyexit.sweep import ExitCosts, sweep_summary, sweep_table

#: Names defined in modules that import torch, loaded on first access: name -> module.
_LAZY = {
    "ExitFlops": "flops",
    "ExitNet": "prefix",
    "ExitSeconds": "timing",
    "count_flops": "flops",
    "exit_flops": "flops",
    "exit_seconds": "timing",
    "forward_full": "prefix",
    "forward_single_exit": "prefix",
    "forward_to_exit": "prefix",
    "median_seconds": "timing",
}

__all__ = [
    "INDEX_COLUMNS",
    "SPLITS",
    "ExitCosts",
    "ExitFlops",
    "ExitNet",
    "ExitSeconds",
    "ImageClassIndex",
    "confidence_exit",
    "count_flops",
    "entropy_exit",
    "exit_flops",
    "exit_seconds",
    "forward_full",
    "forward_single_exit",
    "forward_to_exit",
    "median_seconds",
    "patience_confidence_exit",
    "patience_exit",
    "softmax_entropy",
    "sweep_summary",
    "sweep_table",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
