"""The ``toy`` track: a tiny binary-classification task that proves the engine in tests (not a benchmark)."""

from __future__ import annotations

from harness.tracks.toy.track import (
    VERSION,
    NearestCentroid,
    NoOp,
    ToyBudget,
    ToyInputs,
    ToyTrack,
    ToyTruth,
    generate,
    list_subsets,
)

__all__ = [
    "VERSION",
    "NearestCentroid",
    "NoOp",
    "ToyBudget",
    "ToyInputs",
    "ToyTrack",
    "ToyTruth",
    "generate",
    "list_subsets",
]
