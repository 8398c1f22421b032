"""The prompt track's contract on the tiny synthetic set: presets, shots, cached CLIP, truth, checks, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from prompt_cases import CARD, TRACK, budget

from harness.api import Predictions
from harness.cards import CACHE_FOLDER, dataset_fingerprint
from harness.errors import BudgetError, InvalidPredictionError
from harness.tracks.prompt import PromptTrack, draw_shots, shots_of
from harness.tracks.prompt.figures import shot_curves


def test_presets_build_and_rank_by_the_harmonic_mean():
    for name in ("smoke", "default", "paper"):
        TRACK.budget(name)
    assert TRACK.budget("default").seeds == (0, 1, 2)
    assert TRACK.budget("paper").model == "ViT-B-16" and TRACK.budget("paper").device == "cuda"
    assert TRACK.main_metric == "harmonic_mean"
    assert shots_of("shots8") == 8
    with pytest.raises(ValueError, match="shots1, shots2"):
        shots_of("shots3")


def test_shots_are_the_same_for_every_call_and_differ_by_seed():
    labels = np.repeat(np.arange(5), 20)
    rows = draw_shots(labels, 4, seed=0)
    assert np.array_equal(rows, draw_shots(labels, 4, seed=0))
    assert np.bincount(labels[rows]).tolist() == [4] * 5
    assert not np.array_equal(rows, draw_shots(labels, 4, seed=1))
    one = draw_shots(labels, 1, seed=0)
    assert np.bincount(labels[one]).tolist() == [1] * 5


def test_load_train_caches_the_tiny_clip_in_the_cache_not_the_dataset(tiny_root, tmp_path):
    before = dataset_fingerprint(tiny_root)
    track = PromptTrack()
    track.cache_root = tmp_path / "cache"
    train = track.load_train(tiny_root, CARD, "shots2", budget(), seed=0)
    assert train.images.shape == (24, 32, 32, 3) and train.n_base == 6 and train.n_classes == 12
    assert len(list((track.cache_root / "prompt").rglob("tiny-clip-*.safetensors"))) == 1
    assert not (tiny_root / CACHE_FOLDER).exists()
    assert dataset_fingerprint(tiny_root) == before
    again = track.load_train(tiny_root, CARD, "shots2", budget(), seed=0)
    for (key, value), other in zip(train.clip.model.state_dict().items(), again.clip.model.state_dict().values(),
                                   strict=True):
        assert np.array_equal(value.numpy(), other.numpy()), key
    assert all(not p.requires_grad for p in train.clip.model.parameters())


def test_truth_and_inputs_line_up_and_bad_predictions_are_refused(tiny_root):
    b = budget(test_per_class=2)
    truth = TRACK.load_truth(tiny_root, CARD, "shots1", b)
    inputs = TRACK.load_test_inputs(tiny_root, CARD, "shots1", b)
    assert len(truth) == len(inputs) == 24 and np.bincount(truth.labels).tolist() == [2] * 12
    good = Predictions.of(logits=np.zeros((24, 12)), b2n_logits=np.zeros((24, 12)))
    TRACK.validate(good, truth)
    with pytest.raises(InvalidPredictionError, match="b2n_logits"):
        TRACK.validate(Predictions.of(logits=np.zeros((24, 12))), truth)
    with pytest.raises(InvalidPredictionError, match="shape"):
        TRACK.validate(Predictions.of(logits=np.zeros((24, 11)), b2n_logits=np.zeros((24, 12))), truth)


def test_a_named_model_without_checkpoint_fails_once_per_grid(tiny_root):
    with pytest.raises(BudgetError, match="--set weights=PATH"):
        TRACK.grid_subsets(tiny_root, CARD, TRACK.budget("smoke", model="ViT-B-16"))


def test_shot_figure_is_written(tmp_path):
    rows = pd.DataFrame([
        {"dataset": "synth_prompt", "subset": f"shots{k}", "method": m, "method_kind": kind, "metric": metric,
         "value": 0.5 + 0.01 * k, "status": "ok", "budget": "smoke", "seed": 0}
        for k in (1, 2, 4) for m, kind in (("ammpl", "method"), ("coop", "baseline"))
        for metric in ("accuracy", "harmonic_mean")
    ])
    written = shot_curves(rows, tmp_path)
    assert [p.name for p in written] == ["synth_prompt-accuracy-vs-shots.png"] and written[0].stat().st_size > 0
