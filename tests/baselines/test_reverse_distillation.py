"""Tests of the reverse-distillation baseline: shapes and dtypes, determinism, weights faults, the CUDA path."""

from __future__ import annotations

import numpy as np
import pytest
from anomalib_cases import (
    CUDA,
    assert_loaded,
    assert_same,
    assert_valid,
    fit_predict,
    foreign_checkpoint,
    resnet18_checkpoint,
)

from baselines.anomalib_models.reverse_distillation import ReverseDistillation
from baselines.anomalib_models.weights import WeightsError
from harness.registry import methods

CONFIG = {}


def test_registered():
    assert methods.get("reverse-distillation") is ReverseDistillation
    assert methods.meta("reverse-distillation")["kind"] == "baseline"


def test_fit_predict_shapes_dtypes_finite():
    _, predictions = fit_predict(ReverseDistillation, config=CONFIG)
    assert_valid(predictions)


def test_same_seed_same_outputs_other_seed_differs():
    _, first = fit_predict(ReverseDistillation, config=CONFIG, seed=0)
    _, again = fit_predict(ReverseDistillation, config=CONFIG, seed=0)
    _, other = fit_predict(ReverseDistillation, config=CONFIG, seed=1)
    assert_same(first, again)
    assert not np.array_equal(first["maps"], other["maps"])


def test_missing_weights_file_names_it(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=r"weights file '.*nowhere\.pth' does not exist"):
        fit_predict(ReverseDistillation, config=CONFIG, weights=str(missing))


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = foreign_checkpoint(tmp_path / "other.pth")
    with pytest.raises(WeightsError, match=r"other\.pth' does not fit backbone 'resnet18'.*not_a_layer"):
        fit_predict(ReverseDistillation, config=CONFIG, weights=path)


def test_local_weights_load_into_the_backbone(tmp_path):
    path, state = resnet18_checkpoint(tmp_path / "resnet18.pth")
    method, predictions = fit_predict(ReverseDistillation, config=CONFIG, weights=path)
    assert_valid(predictions)
    model = method.detector_.model_
    assert_loaded(model.encoder.feature_extractor, state)


def test_predict_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="is not fitted"):
        ReverseDistillation().predict(None)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_path_matches_contract():
    _, predictions = fit_predict(ReverseDistillation, config=CONFIG, device="cuda")
    assert_valid(predictions)


def test_trains_exactly_max_steps_on_capped_batches():
    method, _ = fit_predict(ReverseDistillation, config={**CONFIG, "train_batch_size": 8}, max_steps=3)
    detector = method.detector_
    assert len(detector.losses_) == 3
    assert detector._step_options(8)["batch_size"] == 4  # capped at the budget's batch_size


def test_layers_outside_the_bottleneck_are_refused():
    with pytest.raises(
        ValueError, match=r"layers of Reverse Distillation must be among \('layer1', 'layer2', 'layer3'\)"
    ):
        fit_predict(ReverseDistillation, layers=("layer3", "layer4"))


def test_backbone_without_decoder_is_refused():
    with pytest.raises(ValueError, match="backbone 'efficientnet_b0' has no Reverse Distillation decoder"):
        fit_predict(ReverseDistillation, backbone="efficientnet_b0")
