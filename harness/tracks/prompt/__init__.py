"""The ``prompt`` track: prompt learning on a frozen CLIP, few-shot and base-to-novel.

The track: :mod:`~harness.tracks.prompt.track` (:class:`PromptTrack`, its budget, presets in :mod:`~.presets`, data
contract), :mod:`~.scoring` (accuracy, base and novel accuracy, harmonic mean), :mod:`~.figures` (accuracy against
shots). The frozen model: :mod:`~.clip` (the tiny open_clip CLIP, its pre-training, :class:`FrozenClip`),
:mod:`~.clip_cache`, :mod:`~.frozen`. The methods' base class and the learned text context: :mod:`~.method`.

Data: :mod:`~harness.tracks.prompt.coop_layout` (CoOp's split-file layout, reader and writer),
:mod:`~harness.tracks.prompt.loaders` (EuroSAT, Oxford-IIIT Pets, the synthetic default, ImageFolder) and the
generator :mod:`~harness.tracks.prompt.synth` (objects with attributes, captions, the ``SynthObjects`` set).

The torch-based names load on first access, so reading a dataset or a card imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.tracks.prompt.coop_layout import LAYOUTS, CoopIndex, CoopLayout, load_index, read_split_file, write_split
from harness.tracks.prompt.loaders import SHOT_SUBSETS, SHOTS, shots_of
from harness.tracks.prompt.scoring import METRICS, accuracy, prompt_metrics
from harness.tracks.prompt.track import (
    PromptBudget,
    PromptImages,
    PromptTrack,
    PromptTrain,
    PromptTruth,
    draw_shots,
)

#: Names defined in modules that import torch, loaded on first access: name -> module.
_LAZY = {"FrozenClip": "clip", "PromptMethod": "method", "TextContext": "method", "load_frozen_clip": "frozen"}

__all__ = [
    "LAYOUTS",
    "METRICS",
    "SHOTS",
    "SHOT_SUBSETS",
    "CoopIndex",
    "CoopLayout",
    "FrozenClip",
    "PromptBudget",
    "PromptImages",
    "PromptMethod",
    "PromptTrack",
    "PromptTrain",
    "PromptTruth",
    "TextContext",
    "accuracy",
    "draw_shots",
    "load_frozen_clip",
    "load_index",
    "prompt_metrics",
    "read_split_file",
    "shots_of",
    "write_split",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)
