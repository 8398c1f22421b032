"""FLOPs of every prefix of a multi-exit net: analytic counts, additivity over pieces, attention on the CPU."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.tracks.earlyexit import (
    ExitNet,
    count_flops,
    exit_flops,
    forward_full,
    forward_single_exit,
    forward_to_exit,
)

SEED = 0


def _linear_net() -> ExitNet:
    """Stem 12 -> 16, three 16 -> 16 stages, a 16 -> 4 head after each: FLOPs are 2 * rows * d_in * d_out."""
    torch.manual_seed(SEED)
    stem = nn.Sequential(nn.Flatten(), nn.Linear(12, 16))
    return ExitNet(stem, [nn.Linear(16, 16) for _ in range(3)], [nn.Linear(16, 4) for _ in range(3)])


def test_linear_net_matches_the_analytic_count():
    flops = exit_flops(_linear_net(), torch.randn(5, 3, 2, 2))
    stem, stage, head = 2 * 12 * 16, 2 * 16 * 16, 2 * 16 * 4
    assert flops.stem == stem and flops.stages.tolist() == [stage] * 3 and flops.heads.tolist() == [head] * 3
    assert flops.single_exit.tolist() == [stem + stage * (k + 1) + head for k in range(3)]
    assert flops.to_exit.tolist() == [stem + (stage + head) * (k + 1) for k in range(3)]
    assert flops.full == stem + 3 * stage + head


def test_pieces_add_up_to_the_whole_prefix():
    net, images = _linear_net(), torch.randn(3, 3, 2, 2)
    flops = exit_flops(net, images)
    for k in range(net.n_exits):
        assert count_flops(lambda k=k: forward_to_exit(net, images, k)) / 3 == flops.to_exit[k]
        assert count_flops(lambda k=k: forward_single_exit(net, images, k)) / 3 == flops.single_exit[k]
    assert count_flops(lambda: forward_full(net, images)) / 3 == flops.full


def test_prefixes_return_the_logits_of_their_exit():
    net, images = _linear_net(), torch.randn(4, 3, 2, 2)
    with torch.no_grad():
        for k in range(net.n_exits):
            assert torch.equal(forward_to_exit(net, images, k), forward_single_exit(net, images, k))
        assert torch.equal(forward_full(net, images), forward_single_exit(net, images, net.n_exits - 1))
        tokens = net.stem(images)
        for stage in net.stages:
            tokens = stage(tokens)
        assert torch.equal(forward_full(net, images), net.heads[-1](tokens))


class _VitStem(nn.Module):
    """Patch embedding, class token and position embedding of a timm VisionTransformer."""

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.vit = vit

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vit.norm_pre(self.vit._pos_embed(self.vit.patch_embed(images)))


class _ClsHead(nn.Module):
    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.norm, self.fc = nn.LayerNorm(dim), nn.Linear(dim, n_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(tokens[:, 0]))


def test_vit_blocks_count_their_attention_products():
    timm = pytest.importorskip("timm")
    torch.manual_seed(SEED)
    dim, depth, n_classes, patch = 32, 3, 5, 8
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=32, patch_size=patch, embed_dim=dim, depth=depth, num_heads=2, num_classes=n_classes
    ).eval()
    heads = [_ClsHead(dim, n_classes) for _ in range(depth - 1)] + [nn.Sequential(vit.norm, _ClsHead(dim, n_classes))]
    net = ExitNet(_VitStem(vit), list(vit.blocks), heads)
    images = torch.randn(2, 3, 32, 32)
    flops = exit_flops(net, images)
    tokens = (32 // patch) ** 2 + 1
    # qkv (3 D^2), projection (D^2) and MLP (8 D^2) at 2 FLOPs per multiply-add, plus QK^T and AV (2 T^2 D each)
    per_block = 2 * tokens * 12 * dim * dim + 4 * tokens * tokens * dim
    assert flops.stages.tolist() == [per_block] * depth
    assert flops.stem == 2 * (tokens - 1) * 3 * patch * patch * dim
    assert flops.heads.tolist() == [2 * dim * n_classes] * depth
    with torch.no_grad():
        assert forward_full(net, images).shape == (2, n_classes)


def test_exit_net_checks_its_pieces_and_exits():
    with pytest.raises(ValueError, match=r"one stage and one head per exit .*got 2 stages and 1 heads"):
        ExitNet(nn.Identity(), [nn.Identity(), nn.Identity()], [nn.Identity()])
    net = _linear_net()
    with pytest.raises(ValueError, match=r"exit of an ExitNet with 3 exits must be in 0\.\.2; got 3"):
        forward_to_exit(net, torch.zeros(1, 3, 2, 2), 3)
    with pytest.raises(ValueError, match=r"images of exit_flops must hold at least one image"):
        exit_flops(net, torch.zeros(0, 3, 2, 2))
