"""Per-pixel Gaussian of the training images: the pure model, no harness imports.

Each pixel and colour channel gets the mean and standard deviation of the (lightly blurred)
training images; a test pixel's anomaly is its largest absolute z-score over the channels,
smoothed by a Gaussian filter. It only sees intensity deviations at fixed positions, so it is the
floor every feature-based method should clear: it fails on textures and on objects whose pose varies.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["fit_pixel_gaussian", "pixel_gaussian_maps"]


def _blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of float (n, H, W, C) images over H and W only."""
    return ndimage.gaussian_filter(images, sigma=(0, sigma, sigma, 0))


def fit_pixel_gaussian(
    images: np.ndarray, *, blur_sigma: float = 1.0, eps: float = 0.02
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per pixel and channel.

    Args:
        images: uint8 array of shape (n_images, H, W, 3).
        blur_sigma: Gaussian blur applied to each image first, in pixels.
        eps: Floor added to the std (in [0, 1] intensity units) so flat pixels do not explode.

    Returns:
        (mean, std), float32 arrays of shape (H, W, 3).
    """
    data = _blur(images.astype(np.float32) / 255.0, blur_sigma)
    return data.mean(axis=0), data.std(axis=0) + eps


def pixel_gaussian_maps(
    images: np.ndarray, mean: np.ndarray, std: np.ndarray, *, blur_sigma: float = 1.0, smooth_sigma: float = 2.0
) -> np.ndarray:
    """Anomaly maps: max over channels of |z|, smoothed.

    Args:
        images: uint8 array of shape (n_images, H, W, 3).
        mean: float array (H, W, 3) from :func:`fit_pixel_gaussian`.
        std: float array (H, W, 3).
        blur_sigma: The blur used at fit time.
        smooth_sigma: Gaussian smoothing of the maps, in pixels.

    Returns:
        float32 array of shape (n_images, H, W).
    """
    data = _blur(images.astype(np.float32) / 255.0, blur_sigma)
    z = np.abs(data - mean) / std
    maps = z.max(axis=-1)
    return ndimage.gaussian_filter(maps, sigma=(0, smooth_sigma, smooth_sigma)).astype(np.float32)
