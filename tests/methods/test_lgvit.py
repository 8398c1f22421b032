"""LGViT on a tiny ViT: head layout and shapes, losses, both stages, ablations, determinism."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from methods.lgvit import Lgvit
from methods.lgvit.heads import LgvitHead, head_kinds, subsample
from methods.lgvit.losses import (
    alternating_weighted_loss,
    distillation_kl,
    heterogeneous_loss,
    homogeneous_loss,
    self_distillation_loss,
)
from methods.lgvit.method import exit_positions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tracks" / "earlyexit"))
from earlyexit_cases import N_CLASSES, TINY, fit_predict, tiny_test, tiny_train  # noqa: E402

SEED = 0


def test_exit_positions_scale_the_papers_four_to_eleven_of_twelve():
    assert exit_positions(12) == [4, 5, 6, 7, 8, 9, 10, 11]
    assert exit_positions(6) == [2, 3, 4, 5]
    assert exit_positions(3) == [1, 2]


def test_head_layouts_match_the_public_code_for_four_and_eight_exits():
    assert head_kinds(4) == ["local_dw", "local_pw", "global_sr2", "global_sr3"]
    assert head_kinds(2) == ["local_dw", "global_sr2"]
    assert head_kinds(8)[:4] == ["local_dw", "local_dw", "local_pw", "local_pw"]
    assert all(k.startswith("local") for k in head_kinds(4, layout="local"))
    assert all(k.startswith("global") for k in head_kinds(4, layout="global"))
    with pytest.raises(ValueError, match="layout of head_kinds must be one of mixed, local, global; got 'both'"):
        head_kinds(4, layout="both")


@pytest.mark.parametrize(("kind", "n_features"), [("local_dw", 64), ("local_pw", 64), ("global_sr2", 16),
                                                  ("global_sr3", 9)])
def test_heads_read_the_patch_grid(kind, n_features):
    torch.manual_seed(SEED)
    head = LgvitHead(kind, dim=16, n_classes=5, n_prefix=1, n_heads=4).eval()
    tokens = torch.randn(2, 1 + 64, 16)
    features, logits = head.features_and_logits(tokens)
    assert features.shape == (2, n_features, 16) and logits.shape == (2, 5)
    torch.testing.assert_close(head(tokens), logits)
    # the class token enters the classifier: moving it moves the logits
    moved = tokens.clone()
    moved[:, 0] += 1.0
    assert not torch.allclose(head(moved), logits)


def test_subsample_keeps_every_stride_th_row_and_column():
    grid = torch.arange(16.0).reshape(1, 16, 1)  # a 4 x 4 grid, value = position
    assert subsample(grid, 2).flatten().tolist() == [0.0, 2.0, 8.0, 10.0]
    assert subsample(grid, 3).flatten().tolist() == [0.0, 3.0, 12.0, 15.0]


def test_global_head_refuses_a_width_its_heads_do_not_divide():
    with pytest.raises(ValueError, match="splits the token width 10 into 4 heads"):
        LgvitHead("global_sr2", dim=10, n_classes=3, n_prefix=1, n_heads=4)


def test_stage_one_alternates_the_final_loss_and_the_depth_weighted_mean():
    exits = [torch.tensor(1.0), torch.tensor(2.0)]
    final = torch.tensor(4.0)
    assert float(alternating_weighted_loss(0, exits, final, [2, 3], 6)) == 4.0
    assert float(alternating_weighted_loss(1, exits, final, [2, 3], 6)) == pytest.approx((2 + 6 + 24) / 11)


def test_distillation_terms_vanish_on_a_perfect_student():
    logits = torch.randn(3, 4)
    assert float(distillation_kl(logits, logits, temperature=2.0)) == pytest.approx(0.0, abs=1e-6)
    features = torch.randn(2, 9, 8)
    assert float(heterogeneous_loss(features, features)) == pytest.approx(0.0, abs=1e-6)
    assert float(homogeneous_loss(features, features, gram=True)) == 0.0
    assert float(homogeneous_loss(features, 2 * features, gram=False)) == pytest.approx(float((features**2).mean()))


def test_self_distillation_loss_uses_first_and_last_heads_of_each_kind():
    torch.manual_seed(SEED)
    kinds = ["local_dw", "local_pw", "global_sr2", "global_sr3"]
    strides = [1, 1, 2, 3]
    last = torch.randn(2, 64, 8)
    features = [torch.randn(2, 64, 8), torch.randn(2, 64, 8), subsample(torch.randn(2, 64, 8), 2),
                subsample(torch.randn(2, 64, 8), 3)]
    logits = [torch.randn(2, 3) for _ in kinds]
    labels = torch.tensor([0, 2])
    common = {"cross_entropy": torch.nn.functional.cross_entropy, "subsample": subsample, "strides": strides,
              "alpha": 0.3, "temperature": 2.0}
    teacher = torch.randn(2, 3)
    plain = self_distillation_loss(kinds, features, logits, teacher, last, labels, beta_hete=0.0, beta_homo=0.0,
                                   **common)
    hete = self_distillation_loss(kinds, features, logits, teacher, last, labels, beta_hete=1.0, beta_homo=0.0,
                                  **common)
    expected = sum(heterogeneous_loss(features[k], subsample(last, strides[k]) if strides[k] > 1 else last)
                   for k in range(4))
    assert float(hete - plain) == pytest.approx(float(expected), rel=1e-5)
    homo = self_distillation_loss(kinds, features, logits, teacher, last, labels, beta_hete=0.0, beta_homo=1.0,
                                  **common)
    expected = homogeneous_loss(features[0], features[1], gram=False) + homogeneous_loss(features[2], features[3],
                                                                                          gram=True)
    assert float(homo - plain) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize(("config", "kinds"), [
    ({}, ["local_dw", "global_sr2"]),
    ({"heads": "local"}, ["local_dw", "local_pw"]),
    ({"heads": "global"}, ["global_sr2", "global_sr3"]),
    ({"distillation": False}, ["local_dw", "global_sr2"]),
])
def test_fit_predict_and_ablations(config, kinds):
    method, predictions = fit_predict(Lgvit, config)
    assert [head.kind for head in method.net_.heads[:-1]] == kinds
    n_items = len(tiny_test()[1])
    assert predictions["exit_depths"].tolist() == [1, 2, TINY["depth"]]
    assert predictions["exit_logits"].shape == (3, n_items, N_CLASSES)
    assert (predictions["seconds_exit_batch"] > 0).all()


def test_stage_one_fine_tunes_the_backbone_and_stage_two_leaves_it_alone():
    torch.manual_seed(SEED)
    shared = tiny_train().backbone.state
    stage_one, _ = fit_predict(Lgvit, {"distillation": False})
    both, _ = fit_predict(Lgvit, {})
    assert not torch.equal(stage_one.net_.heads[-1].head.weight, shared["head.weight"])
    torch.testing.assert_close(both.net_.heads[-1].head.weight, stage_one.net_.heads[-1].head.weight)
    first = [p for p in stage_one.net_.heads[0].parameters()]
    second = [p for p in both.net_.heads[0].parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(first, second, strict=True))  # stage 2 moved the heads


def test_same_seed_same_predictions_and_confidence_exits():
    _, first = fit_predict(Lgvit, {}, seed=2)
    _, second = fit_predict(Lgvit, {}, seed=2)
    np.testing.assert_array_equal(first["exit_logits"], second["exit_logits"])
    layers = first["exit_layers"]
    assert (layers[0] == 0).all() and (layers[-1] == 2).all()  # threshold 0: first exit; 1.0: never early
    assert (np.diff(layers, axis=0) >= 0).all()  # a higher confidence threshold never exits earlier
