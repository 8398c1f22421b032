"""The networks and memories of pseudo-pair self-similarity learning.

- :class:`InstanceMemory`: one unit vector per training image (or per image part), a multi-positive InfoNCE loss
  against all of them, and a momentum update that replaces the buffer instead of writing into it (the loss of
  the same step still needs the old vectors for its backward pass).
- :class:`IntraSimilarity`: ``n_branches`` squeeze-and-excitation channel attentions over one image's feature
  map; each gives an attention-weighted local feature, and :func:`diversity_loss` pushes the branches' channel
  attentions apart so that they find different local cues.
- :class:`InterSimilarity`: aligns the feature map of one image of a pseudo pair to the other's: offsets
  predicted from the two maps drive a deformable convolution (:func:`torchvision.ops.deform_conv2d`), then a
  non-local block lets every position of the first image gather the aligned positions of the second.
- :class:`PseudoPairNet`: the track's :class:`~harness.tracks.reid.method.EmbeddingNet` with the two modules;
  the intra-similarity local features are fused into the retrieval embedding (a zero-initialised linear map
  added before the batch-norm neck), the inter-similarity module is used in training only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn
from torchvision.ops import deform_conv2d

from harness.tracks.reid.method import EmbeddingNet

__all__ = ["InstanceMemory", "InterSimilarity", "IntraSimilarity", "NetOutputs", "PseudoPairNet", "diversity_loss",
           "part_pool", "positive_blocks"]


def part_pool(features: torch.Tensor, n_parts: int) -> torch.Tensor:
    """Average + max pooling of ``n_parts`` horizontal stripes of a feature map (n, C, h, w) -> (n, n_parts, C)."""
    pooled = F.adaptive_avg_pool2d(features, (n_parts, 1)) + F.adaptive_max_pool2d(features, (n_parts, 1))
    return pooled.squeeze(3).transpose(1, 2)


def positive_blocks(positives: torch.Tensor, n_blocks: int) -> torch.Tensor:
    """Positives of block features from positives of images.

    Args:
        positives: bool (b, n), ``positives[r, j]``: image ``j`` is a positive of batch row ``r``.
        n_blocks: Features per image (parts or attention branches), stored image-major in a memory of
            ``n * n_blocks`` rows (row ``j * n_blocks + q``).

    Returns:
        bool (b * n_blocks, n * n_blocks): block ``p`` of row ``r`` has the positives ``(j, p)`` for the images
        ``j`` positive to ``r``; other blocks are negatives, those of its own image included.
    """
    b, n = positives.shape
    same = torch.eye(n_blocks, dtype=torch.bool, device=positives.device)
    return (positives[:, None, :, None] & same[None, :, None, :]).reshape(b * n_blocks, n * n_blocks)


class InstanceMemory(nn.Module):
    """One unit vector per item; multi-positive InfoNCE against all of them; momentum update.

    Args:
        vectors: float tensor (n, d), the initial vectors (normalised here).
        temperature: Softmax temperature of the loss.
        momentum: Share of the old vector kept at each update.
    """

    def __init__(self, vectors: torch.Tensor, *, temperature: float, momentum: float) -> None:
        super().__init__()
        self.register_buffer("vectors", F.normalize(vectors.detach().float(), dim=1))
        self.temperature = temperature
        self.momentum = momentum

    def loss(self, features: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        """Mean over rows of ``-mean_{j positive} log softmax_j(<f, m_j> / t)``.

        Args:
            features: float (b, d), normalised here.
            positives: bool (b, n), at least one positive per row.
        """
        logits = F.normalize(features, dim=1) @ self.vectors.T / self.temperature
        log_prob = F.log_softmax(logits, dim=1)
        weights = positives.float()
        return (-(log_prob * weights).sum(1) / weights.sum(1).clamp_min(1.0)).mean()

    @torch.no_grad()
    def update(self, features: torch.Tensor, index: torch.Tensor) -> None:
        """Move the vectors of ``index`` (b,) toward ``features`` (b, d); repeated indices use their mean."""
        feats = F.normalize(features.detach().float(), dim=1)
        unique, inverse = torch.unique(index, return_inverse=True)
        sums = torch.zeros(len(unique), feats.shape[1], device=feats.device).index_add_(0, inverse, feats)
        counts = torch.zeros(len(unique), device=feats.device).index_add_(0, inverse, torch.ones_like(feats[:, 0]))
        target = sums / counts[:, None]
        moved = F.normalize(self.momentum * self.vectors[unique] + (1 - self.momentum) * target, dim=1)
        self.vectors = self.vectors.index_copy(0, unique, moved)  # a new tensor: the old one may be in a graph


def diversity_loss(attention: torch.Tensor) -> torch.Tensor:
    """Mean squared cosine similarity between the channel attentions of different branches (0 when disjoint).

    Args:
        attention: float (n, M, C), M >= 2 attention vectors per image.
    """
    unit = F.normalize(attention, dim=2)
    gram = unit @ unit.transpose(1, 2)
    m = attention.shape[1]
    off = ~torch.eye(m, dtype=torch.bool, device=attention.device)
    return (gram[:, off] ** 2).mean()


class IntraSimilarity(nn.Module):
    """``n_branches`` channel attentions (squeeze and excitation) over one feature map, each a local feature.

    Branch ``m`` squeezes the map (average + max pooling), excites it through ``C -> C / reduction -> C`` with a
    sigmoid (Hu et al., CVPR 2018) and pools the map re-weighted by that attention.
    """

    def __init__(self, channels: int, n_branches: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels))
            for _ in range(n_branches)
        )

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (attention (n, M, C) in (0, 1), local features (n, M, C)) of a feature map (n, C, h, w)."""
        squeezed = features.mean(dim=(2, 3)) + features.amax(dim=(2, 3))
        attention = torch.stack([torch.sigmoid(branch(squeezed)) for branch in self.branches], dim=1)
        weighted = features[:, None] * attention[..., None, None]  # (n, M, C, h, w)
        local = weighted.mean(dim=(3, 4)) + weighted.amax(dim=(3, 4))
        return attention, local


class InterSimilarity(nn.Module):
    """Align the second map of a pair to the first (deformable convolution), then a non-local cross attention.

    Both maps are first reduced to ``inner`` channels (a 1 x 1 convolution and a batch norm without affine
    parameters over the pair's batch, so that the maps cannot collapse to a constant). ``forward(a, b)``
    predicts ``2 k^2`` offsets per position from the two reduced maps, resamples ``b`` with a deformable
    ``k x k`` convolution (Dai et al., ICCV 2017; :func:`torchvision.ops.deform_conv2d`), and lets each
    position of ``a`` attend over the aligned positions of ``b`` (the non-local block of Wang et al., CVPR
    2018, with queries from ``a`` and keys and values from ``b`` only, so nothing of ``a``'s content is copied
    into the result). At initialisation the offsets are zero, the convolution is the identity and the
    attention's output projection is zero, so the result is the reduced ``b`` itself.
    """

    def __init__(self, channels: int, inner: int = 32, kernel: int = 3) -> None:
        super().__init__()
        self.kernel = kernel
        self.reduce = nn.Sequential(nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner, affine=False))
        self.offsets = nn.Conv2d(2 * inner, 2 * kernel * kernel, 3, padding=1)
        nn.init.zeros_(self.offsets.weight)
        nn.init.zeros_(self.offsets.bias)
        weight = torch.zeros(inner, inner, kernel, kernel)
        weight[:, :, kernel // 2, kernel // 2] = torch.eye(inner)
        self.weight = nn.Parameter(weight)
        self.query = nn.Conv2d(inner, inner, 1)
        self.key = nn.Conv2d(inner, inner, 1)
        self.value = nn.Conv2d(inner, inner, 1)
        self.out = nn.Conv2d(inner, inner, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def align(self, b: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """Deformable convolution of reduced ``b`` (n, inner, h, w) with ``offsets`` (n, 2 k^2, h, w); same size."""
        return deform_conv2d(b, offsets, self.weight, padding=self.kernel // 2)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (reduced ``a``, ``b``'s aligned content gathered at ``a``'s positions), both (n, inner, h, w)."""
        n, _, h, w = a.shape
        ra, rb = self.reduce(torch.cat([a, b])).split(n)
        aligned = self.align(rb, self.offsets(torch.cat([ra, rb], dim=1)))
        q = self.query(ra).flatten(2).transpose(1, 2)  # (n, hw, inner)
        k = self.key(aligned).flatten(2)  # (n, inner, hw)
        v = self.value(aligned).flatten(2).transpose(1, 2)  # (n, hw, inner)
        attention = torch.softmax(q @ k / q.shape[2] ** 0.5, dim=2)
        gathered = (attention @ v).transpose(1, 2).reshape(n, -1, h, w)
        return ra, aligned + self.out(gathered)


@dataclass
class NetOutputs:
    """What one training forward pass gives.

    Attributes:
        embedding: (n, d), the retrieval embedding.
        features: (n, C, h, w), the backbone's feature map.
        parts: (n, P, d), the projected stripe features (patch surrogate classes).
        local: (n, M, d) projected intra-similarity local features, or None without the module.
        attention: (n, M, C) channel attentions, or None.
    """

    embedding: torch.Tensor
    features: torch.Tensor
    parts: torch.Tensor
    local: torch.Tensor | None
    attention: torch.Tensor | None


class PseudoPairNet(nn.Module):
    """The shared embedding network with stripe heads, the intra-similarity module and the inter-similarity module.

    ``forward`` returns (embedding, feature map) like :class:`~harness.tracks.reid.method.EmbeddingNet`, so the
    track's feature extraction works unchanged.

    Args:
        net: The track's embedding network (backbone, pooling, linear, batch-norm neck).
        n_parts: Horizontal stripes of the patch surrogate classes.
        n_branches: Channel-attention branches of the intra-similarity module; 0 leaves it out.
        inter: Whether to build the inter-similarity module.
        inner: Channels of the inter-similarity module.
    """

    def __init__(self, net: EmbeddingNet, *, n_parts: int, n_branches: int, inter: bool, inner: int = 32) -> None:
        super().__init__()
        channels, dim = net.backbone.out_channels, net.embedding_dim
        self.net = net
        self.embedding_dim = dim
        self.n_parts = n_parts
        self.part_head = nn.Sequential(nn.Linear(channels, dim, bias=False), nn.BatchNorm1d(dim))
        self.intra = IntraSimilarity(channels, n_branches) if n_branches else None
        if self.intra is not None:
            self.local_head = nn.Sequential(nn.Linear(channels, dim, bias=False), nn.BatchNorm1d(dim))
            self.fuse = nn.Linear(n_branches * channels, dim, bias=False)
            nn.init.zeros_(self.fuse.weight)
        self.inter = InterSimilarity(channels, inner) if inter else None

    def _embedding(self, features: torch.Tensor, local: torch.Tensor | None) -> torch.Tensor:
        pre = self.net.embed(self.net.pool(features))
        if local is not None:
            pre = pre + self.fuse(local.flatten(1))
        return self.net.neck(pre)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (embedding (n, d), feature map (n, C, h, w)) of images (n, 3, H, W)."""
        features = self.net.backbone(x)
        local = self.intra(features)[1] if self.intra is not None else None
        return self._embedding(features, local), features

    def project(self, pooled: torch.Tensor, head: nn.Module) -> torch.Tensor:
        """Apply a per-feature head to (n, K, C) pooled features -> (n, K, d)."""
        n, k, c = pooled.shape
        return head(pooled.reshape(n * k, c)).reshape(n, k, -1)

    def outputs(self, x: torch.Tensor) -> NetOutputs:
        """Everything the training losses need from images (n, 3, H, W)."""
        features = self.net.backbone(x)
        attention = local_raw = local = None
        if self.intra is not None:
            attention, local_raw = self.intra(features)
            local = self.project(local_raw, self.local_head)
        parts = self.project(part_pool(features, self.n_parts), self.part_head)
        return NetOutputs(self._embedding(features, local_raw), features, parts, local, attention)
