"""SNARM's torch modules: backbone patch features and the self-navigated multi-head residual Mamba.

Self-Navigated Residual Mamba (Li, Wu, Wu, Li, Liu, Shen, Shen; arXiv:2508.01591) scores each patch
of a test image from two residuals: against the training bank (inter) and against the image's own
most normal patches (intra). The concatenated residual magnitudes go to several heads; each head
projects them and runs navigated blocks as the public code's ``SelfNavigatedMambaBlock``: RMS norm,
a 3 x 3 convolution over the whole patch grid, then a Mamba over the *high-residual* tokens only (the
non-reference ones, read in the head's scan order: row- or column-major, forwards or backwards; the
references keep the convolution's output), added back to the block's input. A small convolution of
the head's dilation then predicts per-patch logits. The heads' sigmoids, each taken after upsampling
the head's logits to the image, are averaged (an ensemble; see
:func:`methods.snarm.anomaly_map.fuse_heads`). The residual tokens come from :mod:`methods.snarm.residuals`.

The Mamba is ``mambapy``'s pure-PyTorch selective scan, so it runs on CPU and CUDA alike. Nothing
here imports the harness. License: Apache-2.0 (this implementation).
"""

from __future__ import annotations

import timm
import torch
import torch.nn.functional as F  # noqa: N812
from mambapy.mamba import MambaBlock, MambaConfig, RMSNorm
from torch import nn

from harness.backbones import is_random, load_backbone_weights

__all__ = [
    "HEAD_SPECS",
    "MIXERS",
    "SCAN_KINDS",
    "PatchFeatureExtractor",
    "SnarmNet",
    "build_backbone",
    "focal_loss",
    "scan_order",
    "snarm_loss",
]

#: Scan orders a head can read its tokens in (the public code's four, and a snake).
SCAN_KINDS = ("row", "col", "row_reversed", "col_reversed", "snake")
#: (scan order, dilation of the prediction convolution) of head 0, 1, ...; a config with ``n_heads`` uses the
#: first ``n_heads``. The first four read the public code's four scans (row, column, both reversed).
HEAD_SPECS = (("row", 1), ("col", 1), ("row_reversed", 2), ("col_reversed", 2), ("row", 3), ("col", 3))
#: Sequence mixers of the heads: the paper's Mamba, or a token-wise MLP (ablation).
MIXERS = ("mamba", "mlp")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def build_backbone(name: str, layers: tuple[str, ...], *, weights: str = "random", seed: int = 0) -> nn.Module:
    """A timm backbone that returns the feature maps of ``layers`` (run up to the deepest only).

    Args:
        name: timm model name, e.g. ``"resnet18"``.
        layers: Module names of the feature stages, e.g. ``("layer2", "layer3")``.
        weights: ``"random"`` for the shared random init of
            :func:`harness.backbones.random_init_state` (the network every method of the grid gets),
            else a local checkpoint path.
        seed: The job's seed (random init only).

    Returns:
        A module mapping a float tensor (n_images, 3, S, S) to a list of tensors (n_images, C_l, h_l, w_l).

    Raises:
        ValueError: A layer is not a feature stage of the backbone, or the checkpoint does not fit.
        FileNotFoundError: The checkpoint does not exist.
    """
    probe = timm.create_model(name, pretrained=False, features_only=True)
    available = list(probe.feature_info.module_name())
    unknown = [layer for layer in layers if layer not in available]
    if unknown or not layers:
        msg = f"layers of backbone {name!r} must be among {available}; got {list(layers)}."
        raise ValueError(msg)
    out_indices = tuple(available.index(layer) for layer in layers)
    model = timm.create_model(name, pretrained=False, features_only=True, out_indices=out_indices)
    load_backbone_weights(model, None if is_random(weights) else weights, backbone=name, seed=seed)
    return model


class PatchFeatureExtractor(nn.Module):
    """uint8 images -> locally averaged multi-layer patch features at the first layer's resolution.

    Each layer's map is averaged over a ``local_pool`` x ``local_pool`` neighbourhood (PatchCore's
    local aggregation), deeper maps are upsampled bilinearly to the first one, and all are concatenated.

    Args:
        backbone: Module from :func:`build_backbone`; kept frozen in eval mode.
        local_pool: Side of the averaging window (1 = none).
    """

    def __init__(self, backbone: nn.Module, *, local_pool: int = 3) -> None:
        super().__init__()
        self.backbone = backbone.eval().requires_grad_(requires_grad=False)
        self.local_pool = local_pool
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PatchFeatureExtractor:  # noqa: FBT001, FBT002 - torch's signature
        """Keep the backbone in eval mode (frozen batch-norm statistics) whatever ``mode`` is."""
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map uint8 images (n_images, S, S, 3) to float32 features (n_images, n_channels, h, w)."""
        x = (images.permute(0, 3, 1, 2).float() / 255.0 - self.mean) / self.std
        maps = self.backbone(x)
        if self.local_pool > 1:
            pad = self.local_pool // 2
            maps = [F.avg_pool2d(m, self.local_pool, stride=1, padding=pad, count_include_pad=False) for m in maps]
        size = maps[0].shape[-2:]
        maps = [maps[0]] + [F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps[1:]]
        return torch.cat(maps, dim=1).float()


def scan_order(height: int, width: int, kind: str) -> torch.Tensor:
    """Order in which a head reads the ``height x width`` patch grid.

    ``row``/``col``: row- or column-major; ``*_reversed``: the same backwards (the public code's four
    scans); ``snake``: row-major with every second row reversed.

    Returns:
        int64 tensor of shape (height * width,): a permutation of the row-major patch indices.

    Example:
        >>> scan_order(2, 2, "col").tolist()
        [0, 2, 1, 3]
    """
    grid = torch.arange(height * width).view(height, width)
    if kind in ("row", "row_reversed"):
        seq = grid.flatten()
    elif kind in ("col", "col_reversed"):
        seq = grid.t().flatten()
    elif kind == "snake":
        snake = grid.clone()
        snake[1::2] = snake[1::2].flip(1)
        seq = snake.flatten()
    else:
        msg = f"scan kind must be one of {SCAN_KINDS}; got {kind!r}."
        raise ValueError(msg)
    if kind.endswith("_reversed"):
        seq = seq.flip(0)
    return seq


def _make_mixer(kind: str, d_model: int, d_state: int) -> nn.Module:
    """The sequence mixer of a block, without norm or residual (the block adds those)."""
    if kind == "mamba":
        return MambaBlock(MambaConfig(d_model=d_model, n_layers=1, d_state=d_state, expand_factor=2, d_conv=4))
    if kind == "mlp":  # ablation: each token alone, no sequence mixing
        return nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
    msg = f"mixer must be one of {MIXERS}; got {kind!r}."
    raise ValueError(msg)


class _NavigatedBlock(nn.Module):
    """One navigated block (the public code's ``SelfNavigatedMambaBlock``) on row-major tokens.

    ``z + f(z)``, where ``f`` is: RMS norm per token, a 3 x 3 convolution over the patch grid, then the
    mixer over the high-residual tokens only, in scan order (the reference tokens keep the convolution's
    output).
    """

    def __init__(self, d_model: int, *, mixer: str, d_state: int) -> None:
        super().__init__()
        self.norm = RMSNorm(d_model)
        self.conv = nn.Conv2d(d_model, d_model, 3, padding=1)
        self.mixer = _make_mixer(mixer, d_model, d_state)

    def local(self, z: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Norm and grid convolution of row-major tokens (B, L, D) -> (B, L, D), the mixer's input."""
        grid = self.norm(z).transpose(1, 2).reshape(len(z), -1, height, width)
        return self.conv(grid).flatten(2).transpose(1, 2)

    def forward(
        self,
        z: torch.Tensor,
        high_pos: torch.Tensor | None,
        order: torch.Tensor,
        inverse: torch.Tensor,
        height: int,
        width: int,
    ) -> torch.Tensor:
        """Map row-major tokens (B, L, D) to (B, L, D).

        ``high_pos`` (B, n_high): positions, in scan order, of the high-residual tokens (None: none);
        ``order``/``inverse``: the head's scan order of the grid and its inverse permutation.
        """
        h = self.local(z, height, width)
        if high_pos is not None:
            h_seq = h[:, order]
            index = high_pos[..., None].expand(-1, -1, h.shape[-1])
            h = h_seq.scatter(1, index, self.mixer(h_seq.gather(1, index)))[:, inverse]
        return z + h


class _Head(nn.Module):
    """One navigated head: project, navigated blocks in the head's scan order, predict logits."""

    def __init__(self, in_dim: int, *, scan: str, dilation: int, mixer: str, d_model: int, n_layers: int, d_state: int):
        super().__init__()
        self.scan, self.dilation = scan, dilation
        self.proj = nn.Linear(in_dim, d_model)
        self.blocks = nn.ModuleList(_NavigatedBlock(d_model, mixer=mixer, d_state=d_state) for _ in range(n_layers))
        self.out = nn.Sequential(
            nn.Conv2d(d_model, d_model, 3, padding=dilation, dilation=dilation),
            nn.ReLU(),
            nn.Conv2d(d_model, 1, 1),
        )
        self._orders: dict[tuple[int, int, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}

    def _order(self, height: int, width: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's scan order of the grid and its inverse permutation, cached per grid and device."""
        key = (height, width, device)
        if key not in self._orders:
            order = scan_order(height, width, self.scan).to(device)
            self._orders[key] = (order, torch.argsort(order))
        return self._orders[key]

    def forward(self, tokens: torch.Tensor, high: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Map tokens (B, L, in_dim) and a high mask (B, L), equal counts per row, to logits (B, h, w)."""
        z = self.proj(tokens)
        order, inverse = self._order(height, width, z.device)
        high_seq = high[:, order]
        n_high = int(high_seq[0].sum())
        # Positions of the high tokens in scan order, kept in that order: a stable sort puts them first.
        high_pos = torch.argsort((~high_seq).to(torch.uint8), dim=1, stable=True)[:, :n_high] if n_high else None
        for block in self.blocks:
            z = block(z, high_pos, order, inverse, height, width)
        fmap = z.transpose(1, 2).reshape(len(z), -1, height, width)
        return self.out(fmap)[:, 0]


class SnarmNet(nn.Module):
    """Self-navigated multi-head residual network on top of the residual tokens.

    Args:
        in_dim: Channels of each token (C for the inter-residual alone, 2C with the intra-residual).
        mixer: ``"mamba"`` or ``"mlp"`` (ablation).
        n_heads: Heads, using the first ``n_heads`` entries of :data:`HEAD_SPECS`.
        d_model: Width of each head.
        n_layers: Navigated blocks per head.
        d_state: Mamba state size (4 in the public code).
    """

    def __init__(
        self,
        in_dim: int,
        *,
        mixer: str = "mamba",
        n_heads: int = 4,
        d_model: int = 32,
        n_layers: int = 1,
        d_state: int = 4,
    ) -> None:
        super().__init__()
        if not 1 <= n_heads <= len(HEAD_SPECS):
            msg = f"n_heads of SnarmNet must be in [1, {len(HEAD_SPECS)}]; got {n_heads}."
            raise ValueError(msg)
        self.heads = nn.ModuleList(
            _Head(in_dim, scan=scan, dilation=dil, mixer=mixer, d_model=d_model, n_layers=n_layers, d_state=d_state)
            for scan, dil in HEAD_SPECS[:n_heads]
        )
        self.register_buffer("token_mean", torch.zeros(in_dim))
        self.register_buffer("token_std", torch.ones(in_dim))

    @torch.no_grad()
    def set_token_statistics(self, tokens: torch.Tensor) -> None:
        """Fix the per-channel standardisation of the input tokens from training tokens (n, L, in_dim)."""
        flat = tokens.reshape(-1, tokens.shape[-1])
        self.token_mean.copy_(flat.mean(dim=0))
        self.token_std.copy_(flat.std(dim=0).clamp_min(1e-6))

    def forward(self, tokens: torch.Tensor, is_reference: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Per-head logits.

        Args:
            tokens: float tensor (n_images, height * width, in_dim) from :func:`residual_tokens`.
            is_reference: bool tensor (n_images, height * width); the other tokens are mixed.
            height: Rows of the patch grid.
            width: Columns of the patch grid.

        Returns:
            float tensor (n_images, n_heads, height, width).
        """
        tokens = (tokens - self.token_mean) / self.token_std
        return torch.stack([head(tokens, ~is_reference, height, width) for head in self.heads], dim=1)


def focal_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0) -> torch.Tensor:
    """Mean binary focal loss (Lin et al., ICCV 2017) for soft targets in [0, 1].

    Example:
        >>> float(focal_loss(torch.tensor([0.0]), torch.tensor([1.0]), gamma=0.0))  # = log 2
        0.6931471824645996
    """
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_true = p * target + (1 - p) * (1 - target)
    return (ce * (1 - p_true) ** gamma).mean()


def snarm_loss(logits: torch.Tensor, target: torch.Tensor, *, gamma: float = 2.0) -> torch.Tensor:
    """Training loss: focal plus L1 on the probabilities, averaged over the heads (each head learns alone).

    Args:
        logits: float tensor (n_images, n_heads, h, w) from :class:`SnarmNet`.
        target: float tensor (n_images, h, w): share of each patch covered by the synthetic mask.
        gamma: Focusing parameter of the focal loss.

    Example:
        >>> float(snarm_loss(torch.zeros(1, 2, 1, 1), torch.zeros(1, 1, 1), gamma=0.0))  # log 2 + 0.5
        1.1931471824645996
    """
    target = target[:, None].expand_as(logits)
    return focal_loss(logits, target, gamma=gamma) + (torch.sigmoid(logits) - target).abs().mean()
