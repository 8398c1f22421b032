"""Post-processing of SNARM: head logits -> fused probability maps -> smoothed maps -> image scores.

As the public inference code of SNARM (arXiv:2508.01591, ``SelfNavigatedResidualMambaDecoder.pixel_forward``),
each head's logits are upsampled bilinearly to the image, passed through the sigmoid, and the heads'
probabilities averaged (:func:`fuse_heads`). The public code then smooths each map with a Gaussian of sigma 4
pixels and scores an image by the maximum of the map average-pooled with a 16 x 16 window at
stride 2. Both sizes are fixed here at 256 px and scaled linearly with the image size, so a
128 px budget smooths with sigma 2 and pools 8 x 8 windows at stride 1. No statistic of the test
set is used: maps and scores are raw.

Everything runs on torch tensors on the caller's device, a batch at a time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F  # noqa: N812

__all__ = ["anomaly_maps", "fuse_heads", "gaussian_smooth", "pooled_max_score", "scaled_size"]

#: Image side at which the paper's smoothing sigma and pooling window are defined, in pixels.
REFERENCE_SIZE_PX = 256


def scaled_size(value_at_256: float, image_size: int) -> float:
    """Scale a length given at 256 px to ``image_size`` px.

    Example:
        >>> scaled_size(4.0, 128)
        2.0
    """
    return value_at_256 * image_size / REFERENCE_SIZE_PX


def fuse_heads(logits: torch.Tensor, image_size: int) -> torch.Tensor:
    """Ensemble of the heads: mean over heads of the sigmoid of each head's upsampled logits.

    Upsampling comes before the sigmoid, as in the public code (bilinear; ``align_corners=False`` here,
    which keeps every patch value at its patch's centre, where the public code uses ``True``).

    Args:
        logits: float tensor of shape (n_images, n_heads, h, w), per-patch logits of each head.
        image_size: Side of the images, in pixels.

    Returns:
        float tensor of shape (n_images, image_size, image_size), values in [0, 1].

    Example:
        >>> fuse_heads(torch.zeros(2, 3, 4, 4), 8).unique().tolist()
        [0.5]
    """
    size = (image_size, image_size)
    if tuple(logits.shape[-2:]) != size:
        logits = F.interpolate(logits.float(), size=size, mode="bilinear", align_corners=False)
    return torch.sigmoid(logits).mean(dim=1)


def _gaussian_kernel1d(sigma: float, truncate: float, device: torch.device) -> torch.Tensor:
    """Normalised 1-D Gaussian of radius ``int(truncate * sigma + 0.5)`` (scipy's convention)."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64, device=device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    return kernel / kernel.sum()


def _symmetric_index(n: int, radius: int, device: torch.device) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``radius`` with half-sample symmetric reflection."""
    idx = torch.arange(-radius, n + radius, device=device) % (2 * n)
    return torch.where(idx >= n, 2 * n - 1 - idx, idx)


def gaussian_smooth(maps: torch.Tensor, sigma: float, *, truncate: float = 4.0) -> torch.Tensor:
    """Separable Gaussian smoothing of each map, as ``scipy.ndimage.gaussian_filter`` (mode "reflect").

    Args:
        maps: float tensor of shape (n_images, H, W).
        sigma: Standard deviation in pixels; ``sigma <= 0`` returns the maps unchanged.
        truncate: Kernel radius in standard deviations.

    Returns:
        float tensor of shape (n_images, H, W) with the dtype of ``maps``. Borders reflect about
        the edge (d c b a | a b c d), for any kernel radius; NaN spreads to its neighbourhood.

    Example:
        >>> gaussian_smooth(torch.ones(1, 8, 8), 1.0).allclose(torch.ones(1, 8, 8))
        True
    """
    if sigma <= 0:
        return maps
    n, height, width = maps.shape
    kernel = _gaussian_kernel1d(sigma, truncate, maps.device).to(maps.dtype)
    radius = (len(kernel) - 1) // 2
    x = maps.index_select(1, _symmetric_index(height, radius, maps.device))
    x = F.conv2d(x[:, None], kernel.view(1, 1, -1, 1))[:, 0]
    x = x.index_select(2, _symmetric_index(width, radius, maps.device))
    return F.conv2d(x[:, None], kernel.view(1, 1, 1, -1))[:, 0]


def pooled_max_score(maps: torch.Tensor, *, kernel_size: int, stride: int) -> torch.Tensor:
    """Image score: the maximum of the map after average pooling (no padding).

    Args:
        maps: float tensor of shape (n_images, H, W).
        kernel_size: Side of the averaging window, clipped to the map size.
        stride: Step between windows.

    Returns:
        float tensor of shape (n_images,).

    Example:
        >>> pooled_max_score(torch.eye(4)[None], kernel_size=2, stride=2)
        tensor([0.5000])
    """
    kernel = (min(kernel_size, maps.shape[1]), min(kernel_size, maps.shape[2]))
    pooled = F.avg_pool2d(maps[:, None], kernel_size=kernel, stride=max(1, stride))
    return pooled.flatten(1).amax(dim=1)


def anomaly_maps(
    patch_maps: torch.Tensor,
    image_size: int,
    *,
    sigma_at_256: float = 4.0,
    pool_at_256: int = 16,
    pool_stride_at_256: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Upsample maps to the image (when smaller), smooth them, and pool their maximum into image scores.

    Args:
        patch_maps: float tensor of shape (n_images, h, w), anomaly probabilities per patch or, from
            :func:`fuse_heads`, per pixel (h = w = ``image_size``: no upsampling).
        image_size: Side of the input images, in pixels; maps are returned at this size.
        sigma_at_256: Gaussian sigma at 256 px (the paper's 4), scaled to ``image_size``.
        pool_at_256: Averaging window at 256 px (16), scaled and rounded, at least 1.
        pool_stride_at_256: Pooling stride at 256 px (2), scaled and rounded, at least 1.

    Returns:
        (maps, scores): float32 tensor (n_images, image_size, image_size) and float64 tensor (n_images,).

    Example:
        >>> maps, scores = anomaly_maps(torch.rand(2, 8, 8), 64)
        >>> tuple(maps.shape), scores.dtype
        ((2, 64, 64), torch.float64)
    """
    maps = patch_maps.float()
    if tuple(maps.shape[-2:]) != (image_size, image_size):
        maps = F.interpolate(maps[:, None], size=(image_size, image_size), mode="bilinear", align_corners=False)[:, 0]
    maps = gaussian_smooth(maps, scaled_size(sigma_at_256, image_size))
    kernel = max(1, math.floor(scaled_size(pool_at_256, image_size) + 0.5))
    stride = max(1, math.floor(scaled_size(pool_stride_at_256, image_size) + 0.5))
    scores = pooled_max_score(maps, kernel_size=kernel, stride=stride)
    return maps.float(), scores.double()
