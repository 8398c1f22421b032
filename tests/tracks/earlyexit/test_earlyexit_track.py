"""The earlyexit track's data contract on the tiny synthetic set: split, backbone cache, truth, presets, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.cards import dataset_fingerprint, load_card
from harness.errors import BudgetError
from harness.tracks.earlyexit import EarlyExitTrack, synth
from harness.tracks.earlyexit.figures import speedup_curves
from harness.tracks.earlyexit.track import split_rows

TRACK = EarlyExitTrack()
CARD = load_card("synth_cifar10")


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ee") / "synth"
    synth.generate(root, **synth.PRESETS["tiny"])
    return root


def _budget(**overrides):
    return TRACK.budget("smoke", **{"backbone_steps": 5, "train_images": 0, "test_images": 30, **overrides})


def test_presets_build_and_default_runs_three_seeds():
    for name in ("smoke", "default", "paper"):
        budget = TRACK.budget(name)
        assert budget.max_speedup > 1
    assert TRACK.budget("default").seeds == (0, 1, 2)
    assert TRACK.budget("paper").device == "cuda" and TRACK.budget("paper").backbone == "vit_base_patch16_224"
    assert TRACK.main_metric == "auc_accuracy_speedup"
    assert set(TRACK.hardware_metrics) < set(TRACK.metrics)
    assert "auc_accuracy_speedup" in TRACK.hardware_metrics
    assert "auc_accuracy_speedup_flops" not in TRACK.hardware_metrics


def test_split_holds_out_the_same_validation_images_per_class():
    labels = np.repeat(np.arange(4), 10)
    train, val = split_rows(labels, _budget(val_per_class=3))
    assert not set(train) & set(val) and len(train) + len(val) == 40
    assert np.bincount(labels[val]).tolist() == [3, 3, 3, 3]
    again, val_again = split_rows(labels, _budget(val_per_class=3, train_images=8))
    assert np.array_equal(val, val_again) and np.bincount(labels[again]).tolist() == [2, 2, 2, 2]


def test_load_train_caches_the_backbone_in_the_cache_not_the_dataset(tiny_root, tmp_path):
    track = EarlyExitTrack()
    track.cache_root = tmp_path / "cache"
    before, files = dataset_fingerprint(tiny_root), sorted(tiny_root.rglob("*"))
    train = track.load_train(tiny_root, CARD, "all", _budget(), seed=0)
    assert train.images.shape == (80, 32, 32, 3) and train.val_images.shape == (20, 32, 32, 3)
    assert len(train.labels) == 80 and train.n_classes == 10
    folder = track.cache_root / "earlyexit" / CARD.name / "all"
    assert len(list(folder.rglob("backbone-*.safetensors"))) == 1
    assert sorted(tiny_root.rglob("*")) == files and dataset_fingerprint(tiny_root) == before
    again = track.load_train(tiny_root, CARD, "all", _budget(), seed=0)
    for key, value in train.backbone.state.items():
        assert np.array_equal(value.numpy(), again.backbone.state[key].numpy())
    track.load_train(tiny_root, CARD, "all", _budget(), seed=1)
    assert len(list(folder.rglob("backbone-*.safetensors"))) == 2


def test_test_inputs_and_truth_line_up(tiny_root):
    budget = _budget()
    inputs = TRACK.load_test_inputs(tiny_root, CARD, "all", budget)
    truth = TRACK.load_truth(tiny_root, CARD, "all", budget)
    assert len(inputs) == len(truth) == 30 and truth.depth == budget.depth and truth.max_speedup == 2.5
    assert np.bincount(truth.labels).tolist() == [3] * 10  # the first of each class in turn
    order = np.arange(30)[::-1]
    assert np.array_equal(inputs.take(order).images, inputs.images[order])
    assert np.array_equal(truth.take(order).labels, truth.labels[order])


def test_a_named_backbone_needs_its_checkpoint(tiny_root):
    with pytest.raises(BudgetError, match=r"names backbone 'vit_base_patch16_224', whose weights come from a local "):
        TRACK.grid_subsets(tiny_root, CARD, TRACK.budget("paper"))
    assert TRACK.grid_subsets(tiny_root, CARD, _budget()) == ["all"]


def test_speedup_figures_draw_one_curve_per_method(tmp_path):
    rows = pd.DataFrame({
        "job_key": ["a", "b", "c"], "status": "ok", "dataset": "d", "subset": "all", "method": ["m", "m", "base"],
        "method_kind": ["method", "method", "baseline"], "budget": "smoke", "seed": [0, 1, 0],
    })
    sweep = {"sweep_speedup_bs1": np.array([2.0, 1.5]), "sweep_speedup_flops": np.array([2.5, 1.6]),
             "sweep_accuracy": np.array([0.6, 0.8]), "exit_accuracy": np.array([0.5, 0.9])}
    written = speedup_curves(rows, tmp_path, {"a": sweep, "b": sweep, "c": sweep})
    assert sorted(p.name for p in written) == ["d-all-accuracy-vs-flops-speedup.png", "d-all-accuracy-vs-speedup.png"]
    assert all(p.stat().st_size > 1000 for p in written)
