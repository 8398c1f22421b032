"""Tests of the patchcore baseline: shapes and dtypes, determinism, weights faults, the CUDA path."""

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

from baselines.anomalib_models.patchcore import Patchcore
from baselines.anomalib_models.weights import WeightsError
from harness.registry import methods

CONFIG = {}


def test_registered():
    assert methods.get("patchcore") is Patchcore
    assert methods.meta("patchcore")["kind"] == "baseline"


def test_fit_predict_shapes_dtypes_finite():
    _, predictions = fit_predict(Patchcore, config=CONFIG)
    assert_valid(predictions)


def test_same_seed_same_outputs_other_seed_differs():
    _, first = fit_predict(Patchcore, config=CONFIG, seed=0)
    _, again = fit_predict(Patchcore, config=CONFIG, seed=0)
    _, other = fit_predict(Patchcore, config=CONFIG, seed=1)
    assert_same(first, again)
    assert not np.array_equal(first["maps"], other["maps"])


def test_missing_weights_file_names_it(tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=r"weights file '.*nowhere\.pth' does not exist"):
        fit_predict(Patchcore, config=CONFIG, weights=str(missing))


def test_weights_of_another_architecture_are_refused(tmp_path):
    path = foreign_checkpoint(tmp_path / "other.pth")
    with pytest.raises(WeightsError, match=r"other\.pth' does not fit backbone 'resnet18'.*not_a_layer"):
        fit_predict(Patchcore, config=CONFIG, weights=path)


def test_local_weights_load_into_the_backbone(tmp_path):
    path, state = resnet18_checkpoint(tmp_path / "resnet18.pth")
    method, predictions = fit_predict(Patchcore, config=CONFIG, weights=path)
    assert_valid(predictions)
    model = method.detector_.model_
    assert_loaded(model.feature_extractor.feature_extractor, state)


def test_predict_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="is not fitted"):
        Patchcore().predict(None)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_cuda_path_matches_contract():
    _, predictions = fit_predict(Patchcore, config=CONFIG, device="cuda")
    assert_valid(predictions)


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_coreset_ratio_outside_unit_interval_is_refused(ratio):
    with pytest.raises(ValueError, match=rf"coreset_sampling_ratio of PatchCore must be in \(0, 1\]; got {ratio}"):
        fit_predict(Patchcore, config={"coreset_sampling_ratio": ratio})


def test_memory_bank_is_the_coreset_of_all_training_patches():
    method, _ = fit_predict(Patchcore, config={"coreset_sampling_ratio": 0.5})
    # 8 images, layer2 of a 32 px image is 4x4: 128 patches, half of them kept; 128 + 256 channels.
    assert tuple(method.detector_.model_.memory_bank.shape) == (64, 384)
