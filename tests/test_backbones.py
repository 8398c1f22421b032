"""The shared random-init backbone: one network per (backbone, seed), the same in every method."""

from __future__ import annotations

import timm
import torch

from baselines.anomalib_models.weights import load_backbone_weights
from harness.backbones import is_random, random_init_state
from harness.tracks.anomaly import AnomalyBudget
from methods.snarm.model import build_backbone


def test_same_backbone_and_seed_give_the_same_state_other_seed_differs():
    a, b = random_init_state("resnet18", seed=0), random_init_state("resnet18", seed=0)
    other = random_init_state("resnet18", seed=1)
    assert a.keys() == b.keys() and "fc.weight" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["layer1.0.conv1.weight"], other["layer1.0.conv1.weight"])


def test_drawing_the_state_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    random_init_state("resnet18", seed=0)
    torch.testing.assert_close(torch.rand(3), expected)


def test_is_random():
    assert is_random(None) and is_random("random") and is_random(" random ") and is_random("")
    assert not is_random("/data/resnet18.pth")


def test_snarm_and_the_anomalib_baselines_get_the_same_random_network():
    state = random_init_state("resnet18", seed=3)
    snarm = build_backbone("resnet18", ("layer1", "layer2"), weights="random", seed=3)
    anomalib_net = timm.create_model("resnet18", pretrained=False, features_only=True, out_indices=(1, 2))
    load_backbone_weights(anomalib_net, None, backbone="resnet18", seed=3)
    for net in (snarm, anomalib_net):
        for key, value in net.state_dict().items():
            assert torch.equal(value, state[key]), key


def test_text_value_of_a_tuple_field_is_split_at_commas():
    budget = AnomalyBudget.from_dict({"layers": "layer1, layer2"})
    assert budget.layers == ("layer1", "layer2")
    assert AnomalyBudget.from_dict({"layers": ["layer3"]}).layers == ("layer3",)
