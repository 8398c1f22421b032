"""The shared backbone: built from the budget, cut into an ExitNet that computes the model, checkpoints, training."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from torch import nn

from harness.backbones import WeightsError
from harness.tracks.earlyexit import EarlyExitTrack, ExitNet, forward_full, forward_to_exit, make_exit_net
from harness.tracks.earlyexit import backbone as bb

SEED = 0
SPEC = bb.BackboneSpec("vit", 5, 16, 4, 16, 3, 2, 2.0)


def test_the_budgets_spec_and_a_seeded_init():
    budget = EarlyExitTrack().budget("default")
    spec = bb.backbone_spec(budget, 10)
    assert (spec.patch_size, spec.embed_dim, spec.depth, spec.num_heads) == (4, 96, 6, 3)
    a, b, c = (bb.build_vit(SPEC, seed=s) for s in (0, 0, 1))
    torch.testing.assert_close(a.state_dict(), b.state_dict())
    assert not torch.equal(a.blocks[0].attn.qkv.weight, c.blocks[0].attn.qkv.weight)
    before = torch.random.get_rng_state()
    bb.build_vit(SPEC, seed=0)
    assert torch.equal(before, torch.random.get_rng_state())  # a private generator


@pytest.mark.parametrize("depths", [[3], [1, 3], [1, 2, 3]])
def test_stem_stages_and_classifier_compute_the_model(depths):
    vit = bb.build_vit(SPEC, seed=SEED).eval()
    heads = [nn.Sequential(nn.LayerNorm(16)) for _ in depths[:-1]]
    net = make_exit_net(vit, heads, depths)
    assert isinstance(net, ExitNet) and net.n_exits == len(depths)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(forward_full(net, x), vit(x))
        tokens = bb.exit_tokens(net, x)
        assert [t.shape for t in tokens] == [torch.Size([2, 17, 16])] * len(depths)
        torch.testing.assert_close(vit.forward_features(x), vit.norm(tokens[-1]))
        torch.testing.assert_close(forward_to_exit(net, x, len(depths) - 1), vit(x))


def test_exit_depths_are_checked():
    vit = bb.build_vit(SPEC, seed=SEED)
    with pytest.raises(ValueError, match=r"must increase from >= 1 to the backbone's depth 3, one more than the 1 "):
        make_exit_net(vit, [nn.Identity()], [2, 2])
    with pytest.raises(ValueError, match=r"got \[1, 2\]"):
        make_exit_net(vit, [nn.Identity()], [1, 2])


def test_a_named_checkpoint_loads_everything_but_the_classifier(tmp_path):
    spec = bb.BackboneSpec("vit_tiny_patch16_224", 7, 224, 0, 0, 0, 0, 0.0)
    torch.manual_seed(SEED)
    source = timm.create_model("vit_tiny_patch16_224", pretrained=False)  # an ImageNet-shaped checkpoint
    torch.save(source.state_dict(), tmp_path / "tiny.pth")
    model = bb.build_vit(spec, seed=SEED)
    bb.load_vit_weights(model, str(tmp_path / "tiny.pth"), arch=spec.arch)
    torch.testing.assert_close(model.blocks[5].mlp.fc1.weight, source.blocks[5].mlp.fc1.weight)
    assert model.head.weight.shape == (7, 192)
    torch.save({"blocks.0.attn.qkv.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="does not fit backbone 'vit_tiny_patch16_224'"):
        bb.load_vit_weights(bb.build_vit(spec, seed=SEED), str(tmp_path / "other.pth"), arch=spec.arch)


def test_a_non_vit_architecture_is_refused():
    with pytest.raises(ValueError, match=r"'resnet18' is not a timm VisionTransformer"):
        bb.build_vit(bb.BackboneSpec("resnet18", 3, 32, 0, 0, 0, 0, 0.0), seed=0)
    with pytest.raises(ValueError, match=r"'not_a_model' is not a timm model"):
        bb.build_vit(bb.BackboneSpec("not_a_model", 3, 32, 0, 0, 0, 0, 0.0), seed=0)


def test_training_is_deterministic_and_learns():
    rng = np.random.default_rng(SEED)
    labels = np.repeat(np.arange(5), 8)
    images = (rng.random((40, 16, 16, 3)) * 60).astype(np.uint8)
    images[..., 0] += (labels * 40).astype(np.uint8)[:, None, None]  # the class is the red level
    budget = EarlyExitTrack().budget("smoke", image_size=16, patch_size=4, embed_dim=16, depth=3, num_heads=2,
                                     backbone_steps=60, batch_size=8, backbone_learning_rate=3e-3)
    first = bb.train_backbone(SPEC, images, labels, budget=budget, seed=SEED, device="cpu")
    second = bb.train_backbone(SPEC, images, labels, budget=budget, seed=SEED, device="cpu")
    torch.testing.assert_close(first, second)
    shared = bb.SharedBackbone(SPEC, first, float("nan"))
    assert shared.depth == 3
    assert bb.classifier_accuracy(shared, images, labels, batch_size=16, device="cpu") > 0.5
