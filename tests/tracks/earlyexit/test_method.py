"""The methods' base class: the harness's predict (outputs, sweep, measured costs) around a method's exits."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.tracks.earlyexit import EarlyExitMethod, exit_flops, make_exit_net
from harness.tracks.earlyexit.measure import collect_exit_outputs
from harness.tracks.earlyexit.training import preprocess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from earlyexit_cases import TINY, context, fit_predict, tiny_budget, tiny_test, tiny_train  # noqa: E402


class _MeanHead(nn.Module):
    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.linear(tokens.mean(dim=1))


class _OneExit(EarlyExitMethod):
    """An untrained head after block 1: the contract without any training."""

    name = "one-exit"
    kind = "baseline"
    rule = "entropy"

    @dataclass(frozen=True)
    class Config:
        """No options."""

    def fit_exits(self, train):
        vit = self.new_backbone(train)
        head = _MeanHead(vit.embed_dim, train.n_classes).to(self.device_)
        return make_exit_net(vit, [head], [1, len(vit.blocks)]), [1, len(vit.blocks)]


def test_predict_returns_every_exit_the_sweep_and_the_measured_costs():
    method, predictions = fit_predict(_OneExit)
    inputs, truth = tiny_test()
    assert sorted(predictions.arrays) == sorted([
        "exit_logits", "exit_layers", "thresholds", "rule", "patience", "exit_depths", "flops_exit", "flops_full",
        "seconds_exit_bs1", "seconds_full_bs1", "seconds_exit_batch", "seconds_full_batch", "timing_batch_sizes",
    ])
    assert predictions["timing_batch_sizes"].tolist() == [1, TINY["batch_size"]]
    logits, scores = collect_exit_outputs(method.net_, inputs.images, batch_size=5, image_size=16, device="cpu")
    assert scores is None
    np.testing.assert_allclose(predictions["exit_logits"], logits, rtol=1e-5, atol=1e-6)  # batch size is immaterial
    counted = exit_flops(method.net_, preprocess(inputs.images[:1], image_size=16, device="cpu"))
    np.testing.assert_allclose(predictions["flops_exit"], counted.to_exit)
    assert predictions["flops_full"][0] == counted.full < counted.to_exit[-1]  # the full model skips the exit head
    assert all(not m.training for m in method.net_.modules())


def test_the_last_exit_is_the_shared_backbones_classifier():
    method, predictions = fit_predict(_OneExit)
    train = tiny_train()
    vit = train.backbone.build("cpu").eval()
    inputs, _ = tiny_test()
    with torch.no_grad():
        expected = vit(preprocess(inputs.images, image_size=16, device="cpu")).numpy()
    np.testing.assert_allclose(predictions["exit_logits"][-1], expected, rtol=1e-5, atol=1e-5)


def test_predict_before_fit_and_a_bad_cost_path_are_errors():
    with pytest.raises(RuntimeError, match="_OneExit.predict was called before fit"):
        _OneExit().predict(tiny_test()[0])

    class _Bad(_OneExit):
        cost_path = "every_exit"

    with pytest.raises(ValueError, match="cost_path of _Bad must be one of"):
        _Bad().fit(tiny_train(), tiny_budget(), context())
