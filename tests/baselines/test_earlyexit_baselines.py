"""Early-exit baselines on a tiny ViT: shapes, determinism, exit-rule semantics, what each training touches."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines.earlyexit import LearnedPolicy, LinearExits, Pabee, Pcee, StaticTruncation
from baselines.earlyexit.heads import LinearHead, PolicyHead
from baselines.earlyexit.policy import lte_loss
from harness.tracks.earlyexit import RULES, exit_flops, threshold_grid
from harness.tracks.earlyexit.training import preprocess

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracks" / "earlyexit"))
from earlyexit_cases import N_CLASSES, TINY, fit_predict, tiny_test, tiny_train  # noqa: E402

DEPTH = TINY["depth"]
CASES = [
    pytest.param(LinearExits, {"rule": "confidence"}, "confidence", id="ee-confidence"),
    pytest.param(LinearExits, {"rule": "entropy"}, "entropy", id="ee-entropy"),
    pytest.param(Pabee, {}, "patience", id="pabee"),
    pytest.param(Pcee, {}, "patience_confidence", id="pcee"),
    pytest.param(LearnedPolicy, {}, "policy", id="berxit"),
    pytest.param(StaticTruncation, {}, "static", id="static-truncation"),
]


@pytest.mark.parametrize(("cls", "config", "rule"), CASES)
def test_fit_predict_shapes_and_rule(cls, config, rule):
    _, predictions = fit_predict(cls, config)
    n_items = len(tiny_test()[1])
    grid = threshold_grid(rule, n_exits=DEPTH, n_classes=N_CLASSES)
    assert predictions["exit_logits"].shape == (DEPTH, n_items, N_CLASSES)
    assert predictions["exit_layers"].shape == (len(grid), n_items)
    assert RULES[int(predictions["rule"][0])] == rule
    assert predictions["exit_depths"].tolist() == list(range(1, DEPTH + 1))
    assert (predictions["flops_exit"] > 0).all() and (predictions["seconds_exit_bs1"] > 0).all()
    assert ("exit_scores" in predictions.arrays) == (rule == "policy")


@pytest.mark.parametrize(("cls", "config", "rule"), CASES)
def test_same_seed_same_predictions(cls, config, rule):
    _, first = fit_predict(cls, config, seed=3)
    _, second = fit_predict(cls, config, seed=3)
    np.testing.assert_array_equal(first["exit_logits"], second["exit_logits"])
    np.testing.assert_array_equal(first["exit_layers"], second["exit_layers"])


def test_static_truncation_sends_every_sample_to_the_threshold_exit_and_pays_one_head():
    method, predictions = fit_predict(StaticTruncation)
    layers = predictions["exit_layers"]
    assert layers.tolist() == [[k] * layers.shape[1] for k in range(DEPTH)]
    assert method.cost_path == "single_exit"
    # a truncated backbone pays its own head only, less than the prefix that runs every head on the way
    x = preprocess(tiny_test()[0].images[:1], image_size=TINY["image_size"], device="cpu")
    counted = exit_flops(method.net_, x)
    np.testing.assert_allclose(predictions["flops_exit"], counted.single_exit)
    assert (counted.single_exit[1:] < counted.to_exit[1:]).all()
    assert predictions["flops_full"][0] == counted.full


def test_two_stage_training_leaves_the_backbone_and_its_classifier_untouched():
    method, predictions = fit_predict(LinearExits, {"rule": "confidence"})
    shared = tiny_train().backbone.state
    for key, value in method.net_.stem.patch_embed.state_dict().items():
        torch.testing.assert_close(value, shared[f"patch_embed.{key}"])
    torch.testing.assert_close(method.net_.heads[-1].head.weight, shared["head.weight"])


def test_pabee_fine_tunes_the_backbone():
    method, _ = fit_predict(Pabee)
    shared = tiny_train().backbone.state
    assert not torch.equal(method.net_.heads[-1].head.weight, shared["head.weight"])


def test_patience_grid_runs_from_the_first_agreement_to_the_last_exit():
    _, predictions = fit_predict(Pabee)
    layers = predictions["exit_layers"]
    assert (layers[0] == 0).all()  # patience 1: every sample leaves at the first exit
    assert (layers[-1] == DEPTH - 1).all()  # patience n_exits: only the last exit can close the run
    assert (np.diff(layers, axis=0) >= 0).all()


def test_policy_scores_are_probabilities_and_drive_the_exits():
    _, predictions = fit_predict(LearnedPolicy)
    scores = predictions["exit_scores"]
    assert ((scores > 0) & (scores <= 1)).all() and (scores[-1] == 1).all()
    for threshold, taken in zip(predictions["thresholds"], predictions["exit_layers"], strict=True):
        for i, k in enumerate(taken):
            assert k == DEPTH - 1 or scores[k, i] > threshold
            assert all(scores[j, i] <= threshold for j in range(k))


def test_heads_and_lte_loss():
    tokens = torch.randn(4, 5, 8)
    assert LinearHead(8, 3)(tokens).shape == (4, 3)
    logits, scores = PolicyHead(8, 3, torch.nn.Linear(8, 1))(tokens)
    assert logits.shape == (4, 3) and scores.shape == (4,)
    right = torch.tensor([[2.0, 0.0], [0.0, 2.0]])
    loss = lte_loss(right, torch.tensor([1.0, 0.0]), torch.tensor([0, 0]))  # first right (target 1), second wrong
    assert float(loss) == 0.0
