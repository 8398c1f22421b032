"""Tiny re-ID data for method tests: the generator's ``tiny`` preset, read through the track at 32 x 16 pixels."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from harness.cards import load_card
from harness.tracks.reid import synth
from harness.tracks.reid.track import ReidTrack


@functools.lru_cache(maxsize=1)
def tiny_root() -> Path:
    """The tiny synthetic dataset, generated once per test process."""
    root = Path(tempfile.mkdtemp(prefix="parbench-reid-")) / "synth_market"
    synth.generate(root, **synth.PRESETS["tiny"])
    return root


def tiny_budget(**overrides):
    """The smoke budget at 32 x 16 pixels."""
    values = {"height": 32, "width": 16, "train_max_images": 0, "test_max_queries": 0, "batch_size": 8}
    values.update(overrides)
    return ReidTrack().budget("smoke", **values)


def tiny_data(**overrides):
    """(track, budget, train, test inputs, truth) of the tiny dataset."""
    track, card, root = ReidTrack(), load_card("synth_market"), tiny_root()
    budget = tiny_budget(**overrides)
    train = track.load_train(root, card, "all", budget)
    return (track, budget, train, track.load_test_inputs(root, card, "all", budget),
            track.load_truth(root, card, "all", budget))
