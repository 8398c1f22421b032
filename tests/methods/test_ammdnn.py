"""AMMDNN: the masked attention, the CCC loss against Lin's formula, the ablations' structure, missing modalities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.api import Context
from harness.cards import load_card
from harness.metrics.agreement import ccc
from harness.tracks.teaching import TeachingTrack, synth
from methods.ammdnn import Ammdnn
from methods.ammdnn.model import AmmdnnNet, PathAttention, ccc_loss


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("teaching")
    synth.generate(root, seed=0, n_teachers=20, classes_per_teacher=20)
    track, card = TeachingTrack(), load_card("synth_teaching")
    budget = track.budget("smoke", epochs=25, hidden=32, batch_size=64)
    parts = [getattr(track, f"load_{what}")(root, card, "fold1", budget, seed=0)
             for what in ("train", "test_inputs", "truth")]
    return (track, budget, *parts)


def _fit(split, **config):
    _, budget, train, _, _ = split
    method = Ammdnn(Ammdnn.make_config(config))
    method.fit(train, budget, Context(seed=0))
    return method


@pytest.mark.parametrize("seed", range(5))
def test_the_ccc_loss_is_one_minus_lins_ccc(seed):
    rng = np.random.default_rng(seed)
    pred, target = rng.integers(0, 4, size=(30, 3)).astype(float), rng.normal(size=(30, 3))
    expected = np.mean([1 - ccc(pred[:, j], target[:, j]) for j in range(3)])
    got = float(ccc_loss(torch.tensor(pred), torch.tensor(target)))
    assert got == pytest.approx(expected, abs=1e-6)


def test_attention_is_zero_on_absent_paths_and_sums_to_one_over_present_ones():
    torch.manual_seed(0)
    attention = PathAttention(8)
    paths = torch.randn(5, 3, 8)
    present = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=torch.bool)
    weights = attention(paths, present)
    assert torch.all(weights[~present] == 0)
    assert torch.allclose(weights[:4].sum(dim=1), torch.ones(4))
    assert torch.all(weights[4] == 0)  # no modality: no weight, no NaN


def test_the_ablations_build_the_intended_structure(split):
    full = _fit(split)
    assert len(full.nets_) == 1 and full.nets_[0].attention is not None
    assert len(full.nets_[0].paths) == 4 and len(full.nets_[0].heads) == 4
    assert _fit(split, attention=False).nets_[0].attention is None
    single = _fit(split, multi_task=False)
    assert len(single.nets_) == 4 and all(len(net.heads) == 1 for net in single.nets_)
    early = _fit(split, paths=False)
    assert len(early.nets_[0].paths) == 1 and early.nets_[0].attention is None


def test_predictions_are_finite_with_modalities_missing_and_weights_follow_presence(split):
    track, _, _, inputs, truth = split
    method = _fit(split)
    track.validate(method.predict(inputs), truth)
    dropped = inputs.without("face")
    weights = method.attention_weights(dropped)
    assert np.all(weights[:, method.modalities.index("face")] == 0)
    assert np.allclose(weights.sum(axis=1), 1.0)
    net = AmmdnnNet([3, 4], 2, 8)
    pred, _ = net([torch.zeros(2, 3), torch.zeros(2, 4)], torch.zeros(2, 2, dtype=torch.bool))
    assert torch.isfinite(pred).all()


def test_training_beats_the_mean_predictor_and_repeats_with_the_seed(split):
    _, _, _, inputs, truth = split
    method = _fit(split)
    pred = method.predict_targets(inputs)
    assert np.mean([ccc(pred[:, j], truth.targets[:, j]) for j in range(truth.targets.shape[1])]) > 0.3
    assert np.array_equal(pred, _fit(split).predict_targets(inputs))
    with pytest.raises(ValueError, match="no attention"):
        _fit(split, paths=False).attention_weights(inputs)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fits_and_predicts_on_cuda(split):
    track, budget, train, inputs, truth = split
    method = Ammdnn()
    method.fit(train, budget, Context(seed=0, device="cuda"))
    assert next(method.nets_.parameters()).is_cuda
    track.validate(method.predict(inputs), truth)
