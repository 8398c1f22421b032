"""A named open_clip architecture loaded from a local checkpoint file (the `paper` path; nothing is downloaded)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from prompt_cases import budget

from harness.errors import BudgetError
from harness.tracks.prompt.clip import tiny_config
from harness.tracks.prompt.frozen import load_frozen_clip

NAME = "parbench-test-clip"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An open_clip model config registered under NAME and a random-init checkpoint of it, saved by torch."""
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip")
    (folder / f"{NAME}.json").write_text(json.dumps(tiny_config(budget())))
    open_clip.add_model_config(folder / f"{NAME}.json")
    reference = open_clip.create_model(NAME, device="cpu")
    path = folder / "weights.pt"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_the_named_model_is_the_checkpoint_and_encodes(checkpoint):
    path, reference = checkpoint
    clip = load_frozen_clip(budget(model=NAME, weights=str(path)))
    loaded = clip.model.state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(value, loaded[key]), key
    assert (clip.image_size, clip.context_length) == (32, 20)  # from the model, not from the budget's fields
    texts = clip.encode_texts(["a photo of a red circle.", "a photo of a blue square."])
    images = clip.encode_images(np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8))
    assert texts.shape == (2, clip.embed_dim) and images.shape == (3, clip.embed_dim)
    assert torch.isfinite(texts).all() and torch.isfinite(images).all()


def test_a_checkpoint_open_clip_cannot_read_names_the_file(checkpoint, tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(BudgetError, match="broken.pt"):
        load_frozen_clip(budget(model=NAME, weights=str(broken)))
