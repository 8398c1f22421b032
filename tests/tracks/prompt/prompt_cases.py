"""Shared fixtures of the prompt-track tests: the tiny synthetic set and a quickly pre-trained tiny CLIP."""

from __future__ import annotations

import pytest

from harness.cards import load_card
from harness.tracks.prompt import PromptTrack, synth

TRACK = PromptTrack()
CARD = load_card("synth_prompt")
#: Pre-training small enough for tests (a few seconds), still better than chance on the colour words.
FAST = {"pretrain_pairs": 400, "pretrain_steps": 40, "steps": 8, "batch_size": 16, "test_per_class": 0}


def budget(**overrides):
    return TRACK.budget("smoke", **{**FAST, **overrides})


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One torch thread, as a job gets on 2 cores: a second thread only spins when the other core is busy."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompt") / "synth"
    synth.generate(root, **synth.PRESETS["tiny"])
    return root
