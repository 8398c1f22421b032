"""Residual features of SNARM: the training bank, inter-residuals, in-image references, intra-residuals.

- Inter-residual of a test patch: the mean of its ``k = 3`` nearest training-bank features minus
  the patch feature (Li et al., arXiv:2508.01591, and its public inference code).
- In-image references: the ``ratio = 0.75`` share of an image's patches with the lowest
  navigation score, the norm of the inter-residual.
- Intra-residual of a patch: its nearest reference patch of the same image (itself excluded)
  minus the patch feature.

Pure torch on the caller's device; nearest neighbours come from ``torch.cdist`` over chunks of
queries, so memory is O(chunk_size x n_bank) instead of O(n_queries x n_bank).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "greedy_coreset",
    "intra_residual",
    "knn_mean_residual",
    "n_references",
    "residual_tokens",
    "residual_transform",
    "select_references",
]


def greedy_coreset(features: torch.Tensor, n_select: int, *, seed: int, projection_dim: int = 128) -> torch.Tensor:
    """Greedy k-centre subsampling of a feature bank (PatchCore's coreset, Roth et al., CVPR 2022).

    Distances are measured after a random Gaussian projection to ``projection_dim`` dimensions
    (when the features have more); each step adds the point farthest from the chosen ones.
    Cost: O(n_select x n_features x projection_dim) time, O(n_features x projection_dim) extra memory, allocated once.

    Args:
        features: float tensor of shape (n_features, n_channels).
        n_select: Points to keep, clipped to [1, n_features].
        seed: Seed of the projection and of the first point.
        projection_dim: Dimension of the random projection.

    Returns:
        int64 tensor of shape (n_select,): indices into ``features``, in selection order.

    Example:
        >>> greedy_coreset(torch.eye(4), 4, seed=0).sort().values.tolist()
        [0, 1, 2, 3]
    """
    n_features, n_channels = features.shape
    n_select = max(1, min(n_select, n_features))
    generator = torch.Generator().manual_seed(seed)
    points = features.float()
    if n_channels > projection_dim:
        projection = torch.randn(n_channels, projection_dim, generator=generator) / math.sqrt(projection_dim)
        points = points @ projection.to(points.device)
    first = int(torch.randint(n_features, (1,), generator=generator))
    chosen = torch.empty(n_select, dtype=torch.long, device=features.device)
    chosen[0] = first
    min_dist = torch.linalg.vector_norm(points - points[first], dim=1)
    # One buffer for every step's differences and distances: a fresh (n_features, dim) temporary per step
    # costs its page faults each time (same values either way).
    difference, distance = torch.empty_like(points), torch.empty_like(min_dist)
    for i in range(1, n_select):
        nxt = torch.argmax(min_dist)
        chosen[i] = nxt
        torch.sub(points, points[nxt], out=difference)
        torch.linalg.vector_norm(difference, dim=1, out=distance)
        torch.minimum(min_dist, distance, out=min_dist)
    return chosen


def knn_mean_residual(
    queries: torch.Tensor,
    bank: torch.Tensor,
    *,
    k: int = 3,
    query_groups: torch.Tensor | None = None,
    bank_groups: torch.Tensor | None = None,
    chunk_size: int = 2048,
) -> torch.Tensor:
    """Inter-residuals: mean of the ``k`` nearest bank features (Euclidean) minus each query.

    With groups, a query never matches a bank row of any of its groups (leave-images-out: a
    synthetic training sample is not compared with the good images it was made from).

    Args:
        queries: float tensor of shape (n_queries, n_channels).
        bank: float tensor of shape (n_bank, n_channels).
        k: Neighbours averaged, clipped to ``n_bank``.
        query_groups: Optional int tensor of shape (n_queries,) or (n_queries, n_groups).
        bank_groups: Optional int tensor of shape (n_bank,); needed when ``query_groups`` is given.
        chunk_size: Queries compared with the whole bank at once.

    Returns:
        float tensor of shape (n_queries, n_channels). Among equal distances the lower bank index
        wins as ``torch.topk`` decides; when fewer than ``k`` rows lie outside a query's group,
        excluded rows fill the remaining places.

    Example:
        >>> knn_mean_residual(torch.zeros(1, 2), torch.tensor([[1.0, 0], [3.0, 0]]), k=2)
        tensor([[2., 0.]])
    """
    if (query_groups is None) != (bank_groups is None):
        msg = "knn_mean_residual needs both query_groups and bank_groups, or neither; got only one."
        raise ValueError(msg)
    k = max(1, min(k, len(bank)))
    out = torch.empty_like(queries)
    for start in range(0, len(queries), chunk_size):
        stop = start + chunk_size
        q = queries[start:stop]
        dist = torch.cdist(q, bank)
        if query_groups is not None:
            groups = query_groups[start:stop].reshape(len(q), -1)
            same = (groups[:, :, None] == bank_groups[None, None, :]).any(dim=1)
            dist = dist.masked_fill(same, math.inf)
        idx = torch.topk(dist, k, dim=1, largest=False).indices
        out[start:stop] = bank[idx].mean(dim=1) - q
    return out


def n_references(n_patches: int, ratio: float) -> int:
    """Number of in-image reference patches: ``round(ratio * n_patches)`` clipped to [1, n_patches].

    Example:
        >>> n_references(256, 0.75)
        192
    """
    return min(n_patches, max(1, math.floor(ratio * n_patches + 0.5)))


def select_references(scores: torch.Tensor, ratio: float) -> torch.Tensor:
    """Mark each image's ``ratio`` share of patches with the lowest score as references.

    Args:
        scores: float tensor of shape (n_images, n_patches), e.g. inter-residual norms.
        ratio: Share of references, in (0, 1].

    Returns:
        bool tensor of shape (n_images, n_patches); every row has :func:`n_references` True values.
        Ties go to the lower patch index.

    Example:
        >>> select_references(torch.tensor([[3.0, 1.0, 2.0, 0.0]]), 0.5).tolist()
        [[False, True, False, True]]
    """
    n_images, n_patches = scores.shape
    n_ref = n_references(n_patches, ratio)
    lowest = torch.argsort(scores, dim=1, stable=True)[:, :n_ref]
    is_reference = torch.zeros_like(scores, dtype=torch.bool)
    return is_reference.scatter(1, lowest, value=True)


def intra_residual(features: torch.Tensor, is_reference: torch.Tensor) -> torch.Tensor:
    """Intra-residuals: nearest in-image reference feature (itself excluded) minus each patch feature.

    Args:
        features: float tensor of shape (n_images, n_patches, n_channels).
        is_reference: bool tensor of shape (n_images, n_patches) from :func:`select_references`.

    Returns:
        float tensor of shape (n_images, n_patches, n_channels). Ties go to the lower patch index;
        a patch with no other reference in its image (one reference only) gets a zero residual.

    Example:
        >>> f = torch.tensor([[[0.0], [1.0], [5.0]]])
        >>> intra_residual(f, torch.tensor([[True, True, False]]))[0, :, 0].tolist()
        [1.0, -1.0, -4.0]
    """
    n_images, n_patches, _ = features.shape
    dist = torch.cdist(features, features)
    eye = torch.eye(n_patches, dtype=torch.bool, device=features.device)
    dist = dist.masked_fill(~is_reference[:, None, :] | eye, math.inf)
    min_dist, nearest = dist.min(dim=2)
    nearest_features = features.gather(1, nearest[..., None].expand_as(features))
    residual = nearest_features - features
    return residual * torch.isfinite(min_dist)[..., None]


def residual_transform(residual: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
    """Element-wise magnitudes fed to the network: ``|r|`` and ``r**2``, each averaged over channel pairs.

    As the public SNARM code's "concat_abs_square": ``|r|`` and ``r**2`` are concatenated along ``dim``
    (2C channels) and each pair of neighbouring channels is averaged, which keeps C channels: the
    first C/2 are pair means of ``|r|``, the last C/2 pair means of ``r**2``.

    Args:
        residual: float tensor with an even number C of channels along ``dim``.
        dim: The channel axis.

    Returns:
        float tensor of the shape of ``residual``.

    Example:
        >>> residual_transform(torch.tensor([[-2.0, 4.0]])).tolist()
        [[3.0, 10.0]]
    """
    n_channels = residual.shape[dim]
    if n_channels % 2:
        msg = f"residual of residual_transform must have an even number of channels; got {n_channels}."
        raise ValueError(msg)
    both = torch.cat([residual.abs(), residual.square()], dim=dim)
    return both.unflatten(dim, (n_channels, 2)).mean(dim=dim + 1 if dim >= 0 else dim)


def residual_tokens(
    features: torch.Tensor, inter: torch.Tensor, *, reference_ratio: float = 0.75, use_intra: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """The network's input: transformed inter- (and intra-) residuals per patch, and the references.

    The references are the ``reference_ratio`` share of each image's patches with the smallest
    inter-residual norm; the intra-residual is taken against them (:func:`intra_residual`).

    Args:
        features: float tensor of shape (n_images, C, h, w), the patch features.
        inter: float tensor of shape (n_images, C, h, w), their inter-residuals.
        reference_ratio: Share of in-image references.
        use_intra: Append the intra-residual (False: inter-residual only).

    Returns:
        (tokens, is_reference): float tensor (n_images, h * w, C or 2C) in row-major patch order,
        and bool tensor (n_images, h * w).

    Example:
        >>> tokens, refs = residual_tokens(torch.rand(2, 4, 3, 3), torch.rand(2, 4, 3, 3))
        >>> tuple(tokens.shape), int(refs[0].sum())
        ((2, 9, 8), 7)
    """
    inter_tokens = inter.flatten(2).transpose(1, 2)
    is_reference = select_references(torch.linalg.vector_norm(inter_tokens, dim=2), reference_ratio)
    parts = [residual_transform(inter_tokens, dim=2)]
    if use_intra:
        parts.append(residual_transform(intra_residual(features.flatten(2).transpose(1, 2), is_reference), dim=2))
    return torch.cat(parts, dim=2), is_reference
