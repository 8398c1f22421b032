"""Tests of the anomalib-backed baselines: shapes and dtypes, determinism, weights faults, the CUDA path.

The tests every baseline shares run over :data:`CASES`, one case per baseline; the tests of one baseline's own
options follow them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from anomalib_cases import (
    CUDA,
    assert_loaded,
    assert_same,
    assert_valid,
    fit_predict,
    foreign_checkpoint,
    resnet18_checkpoint,
)

from baselines.anomalib_models.fastflow import Fastflow
from baselines.anomalib_models.padim import Padim
from baselines.anomalib_models.patchcore import Patchcore
from baselines.anomalib_models.reverse_distillation import ReverseDistillation
from baselines.anomalib_models.stfpm import Stfpm
from baselines.anomalib_models.stfpm.model import teacher_from_random_init
from baselines.anomalib_models.weights import WeightsError
from harness.api import Method
from harness.registry import methods


@dataclass(frozen=True)
class Case:
    """One anomalib-backed baseline under test."""

    #: Name of the baseline in the method registry.
    name: str
    #: The method class.
    method_cls: type[Method]
    #: The network the backbone weights are loaded into, from a fitted method.
    backbone: Callable[[Any], torch.nn.Module]
    #: Method config of the tests (on top of the defaults).
    config: dict[str, Any] = field(default_factory=dict)


PATCHCORE = Case("patchcore", Patchcore, lambda m: m.detector_.model_.feature_extractor.feature_extractor)
PADIM = Case("padim", Padim, lambda m: m.detector_.model_.feature_extractor.feature_extractor)
STFPM = Case("stfpm", Stfpm, lambda m: m.detector_.model_.teacher_model.feature_extractor)
REVERSE_DISTILLATION = Case(
    "reverse-distillation", ReverseDistillation, lambda m: m.detector_.model_.encoder.feature_extractor
)
FASTFLOW = Case("fastflow", Fastflow, lambda m: m.detector_.model_.feature_extractor, {"flow_steps": 2})

#: Every anomalib-backed baseline.
CASES = [PATCHCORE, PADIM, STFPM, REVERSE_DISTILLATION, FASTFLOW]
#: The baselines that train a network for the budget's max_steps.
TRAINED = [STFPM, REVERSE_DISTILLATION, FASTFLOW]


def over(cases: list[Case]) -> pytest.MarkDecorator:
    """Parametrise a test's ``case`` argument over ``cases``, with the registry names as ids."""
    return pytest.mark.parametrize("case", cases, ids=[case.name for case in cases])


# Tests every baseline shares.


@over(CASES)
def test_registered(case):
    assert methods.get(case.name) is case.method_cls
    assert methods.meta(case.name)["kind"] == "baseline"


@over(CASES)
def test_fit_predict_shapes_dtypes_finite(case):
    _, predictions = fit_predict(case.method_cls, config=case.config)
    assert_valid(predictions)


@over(CASES)
def test_same_seed_same_outputs_other_seed_differs(case):
    _, first = fit_predict(case.method_cls, config=case.config, seed=0)
    _, again = fit_predict(case.method_cls, config=case.config, seed=0)
    _, other = fit_predict(case.method_cls, config=case.config, seed=1)
    assert_same(first, again)
    assert not np.array_equal(first["maps"], other["maps"])


@over(CASES)
def test_missing_weights_file_names_it(case, tmp_path):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(FileNotFoundError, match=r"weights file '.*nowhere\.pth' does not exist"):
        fit_predict(case.method_cls, config=case.config, weights=str(missing))


@over(CASES)
def test_weights_of_another_architecture_are_refused(case, tmp_path):
    path = foreign_checkpoint(tmp_path / "other.pth")
    with pytest.raises(WeightsError, match=r"other\.pth' does not fit backbone 'resnet18'.*not_a_layer"):
        fit_predict(case.method_cls, config=case.config, weights=path)


@over(CASES)
def test_local_weights_load_into_the_backbone(case, tmp_path):
    path, state = resnet18_checkpoint(tmp_path / "resnet18.pth")
    method, predictions = fit_predict(case.method_cls, config=case.config, weights=path)
    assert_valid(predictions)
    assert_loaded(case.backbone(method), state)


@over(CASES)
def test_predict_before_fit_is_an_error(case):
    with pytest.raises(RuntimeError, match="is not fitted"):
        case.method_cls().predict(None)


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@over(CASES)
def test_cuda_path_matches_contract(case):
    _, predictions = fit_predict(case.method_cls, config=case.config, device="cuda")
    assert_valid(predictions)


@over(TRAINED)
def test_trains_exactly_max_steps_on_capped_batches(case):
    method, _ = fit_predict(case.method_cls, config={**case.config, "train_batch_size": 8}, max_steps=3)
    detector = method.detector_
    assert len(detector.losses_) == 3
    assert detector._step_options(8)["batch_size"] == 4  # capped at the budget's batch_size


# Patchcore.


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_patchcore_coreset_ratio_outside_unit_interval_is_refused(ratio):
    with pytest.raises(ValueError, match=rf"patchcore.: coreset_sampling_ratio must be > 0 and <= 1; got {ratio}"):
        fit_predict(Patchcore, config={"coreset_sampling_ratio": ratio})


def test_patchcore_memory_bank_is_the_coreset_of_all_training_patches():
    method, _ = fit_predict(Patchcore, config={"coreset_sampling_ratio": 0.5})
    # 8 images, layer2 of a 32 px image is 4x4: 128 patches, half of them kept; 128 + 256 channels.
    assert tuple(method.detector_.model_.memory_bank.shape) == (64, 384)


# Padim.


def test_padim_n_features_sets_the_channel_subset():
    method, predictions = fit_predict(Padim, config={"n_features": 20})
    assert_valid(predictions)
    assert tuple(method.detector_.model_.gaussian.mean.shape) == (20, 16)  # channels, 4x4 positions


def test_padim_too_many_features_are_refused():
    with pytest.raises(ValueError, match="n_features"):
        fit_predict(Padim, config={"n_features": 10_000})


# STFPM.


def test_stfpm_teacher_block_builds_random_init_and_restores_the_extractor():
    from anomalib.models.image.stfpm import torch_model

    original = torch_model.TimmFeatureExtractor
    with pytest.raises(RuntimeError, match="inside"), teacher_from_random_init():
        extractor = torch_model.TimmFeatureExtractor(backbone="resnet18", layers=["layer1"], pre_trained=True)
        assert isinstance(extractor, original)  # built without a download: pre_trained was turned off
        raise RuntimeError("inside")
    assert torch_model.TimmFeatureExtractor is original


# Reverse Distillation.


def test_reverse_distillation_layers_outside_the_bottleneck_are_refused():
    with pytest.raises(
        ValueError, match=r"layers of Reverse Distillation must be among \('layer1', 'layer2', 'layer3'\)"
    ):
        fit_predict(ReverseDistillation, layers=("layer3", "layer4"))


def test_reverse_distillation_backbone_without_decoder_is_refused():
    with pytest.raises(ValueError, match="backbone 'efficientnet_b0' has no Reverse Distillation decoder"):
        fit_predict(ReverseDistillation, backbone="efficientnet_b0")


# Fastflow.


def test_fastflow_only_the_budget_layers_are_trained():
    method, _ = fit_predict(Fastflow, config=FASTFLOW.config)
    blocks = method.detector_.model_.fast_flow_blocks
    # layer1's flow is built by anomalib but never trained or scored under TINY's layers (layer2, layer3).
    assert all(p.grad is None for p in blocks[0].parameters())
    assert any(p.grad is not None for p in blocks[1].parameters())


def test_fastflow_unsupported_backbone_is_refused():
    with pytest.raises(ValueError, match=r"backbone of FastFlow must be one of \('resnet18', 'wide_resnet50_2'\)"):
        fit_predict(Fastflow, config=FASTFLOW.config, backbone="resnet34")
