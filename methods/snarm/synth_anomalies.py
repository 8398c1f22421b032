"""Synthetic anomalies made from good training images only (DRAEM-style), for SNARM's training.

A binary mask is drawn by thresholding 2-D Perlin noise; inside the mask a texture is blended
into the image with a random opacity. DRAEM (Zavrtanik et al., ICCV 2021, arXiv:2108.07610)
takes its textures from the DTD data set; nothing can be downloaded here, so the texture is
another training image of the same category, rotated by a multiple of 90 degrees, cut into
blocks that are shuffled, and scaled in intensity. The per-patch training labels of SNARM come
from the mask.

Reference: Li et al., Self-Navigated Residual Mamba for Universal Industrial Anomaly Detection,
arXiv:2508.01591. License: Apache-2.0 (this implementation).
"""

from __future__ import annotations

import numpy as np

__all__ = ["perlin_mask", "perlin_noise", "synthesize_anomalies"]

#: Blocks per side among which the texture's block shuffle draws (1 = no shuffle).
_SHUFFLE_GRIDS = (1, 2, 4)
#: Draws of a Perlin mask before a sample that should be anomalous is left normal.
_MAX_MASK_TRIES = 5


def _fade(t: np.ndarray) -> np.ndarray:
    """Perlin's quintic fade curve 6t^5 - 15t^4 + 10t^3."""
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def perlin_noise(size: int, res: tuple[int, int], *, rng: np.random.Generator) -> np.ndarray:
    """2-D gradient (Perlin) noise on a ``size`` x ``size`` grid.

    Random unit gradients sit on a lattice of ``res[0]`` x ``res[1]`` cells; every pixel blends the
    dot products with its four corner gradients through the quintic fade curve, and the result is
    scaled by sqrt(2) so that it spans about [-1, 1] (as DRAEM's generator does).

    Args:
        size: Side of the output, in pixels.
        res: Number of lattice cells along rows and columns (each >= 1).
        rng: Generator the gradients are drawn from.

    Returns:
        float32 array of shape (size, size), values in [-1, 1], zero on the lattice points.

    Example:
        >>> perlin_noise(32, (4, 4), rng=np.random.default_rng(0)).shape
        (32, 32)
    """
    angles = rng.uniform(0.0, 2.0 * np.pi, size=(res[0] + 1, res[1] + 1))
    grads = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
    ys = np.arange(size) * (res[0] / size)
    xs = np.arange(size) * (res[1] / size)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]

    def corner(dy: int, dx: int) -> np.ndarray:
        g = grads[(y0 + dy)[:, None], (x0 + dx)[None, :]]
        return g[..., 0] * (fy - dy) + g[..., 1] * (fx - dx)

    uy, ux = _fade(fy), _fade(fx)
    top = corner(0, 0) * (1 - ux) + corner(0, 1) * ux
    bottom = corner(1, 0) * (1 - ux) + corner(1, 1) * ux
    return (np.sqrt(2.0) * (top * (1 - uy) + bottom * uy)).astype(np.float32)


def perlin_mask(size: int, *, rng: np.random.Generator, threshold: float = 0.5, min_cell_px: int = 4) -> np.ndarray:
    """Binary anomaly mask: Perlin noise at a random scale, thresholded (DRAEM's recipe).

    DRAEM draws the lattice resolution per axis as 2^u with u uniform in [0, 6) at 256 px and
    thresholds at 0.5; here u runs up to the largest power of two that keeps cells at least
    ``min_cell_px`` pixels wide, and the noise is flipped or transposed at random instead of rotated.

    Args:
        size: Side of the mask, in pixels.
        rng: Generator of every random draw.
        threshold: Noise level above which a pixel is anomalous.
        min_cell_px: Smallest lattice cell, in pixels.

    Returns:
        bool array of shape (size, size); it may be empty.

    Example:
        >>> perlin_mask(64, rng=np.random.default_rng(0)).dtype
        dtype('bool')
    """
    max_exp = max(0, int(np.floor(np.log2(max(1, size // min_cell_px)))))
    res = (2 ** int(rng.integers(0, max_exp + 1)), 2 ** int(rng.integers(0, max_exp + 1)))
    noise = perlin_noise(size, res, rng=rng)
    if rng.random() < 0.5:
        noise = noise.T
    if rng.random() < 0.5:
        noise = noise[::-1]
    if rng.random() < 0.5:
        noise = noise[:, ::-1]
    return np.ascontiguousarray(noise > threshold)


def _zoom(texture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Change the texture's scale by 2 or 4: enlarge a crop (nearest) or tile a subsampled copy."""
    size = texture.shape[0]
    factor = int(rng.choice([f for f in (2, 4) if size % f == 0] or [1]))
    if factor == 1:
        return texture
    if rng.random() < 0.5:
        side = size // factor
        top, left = rng.integers(0, size - side + 1, size=2)
        crop = texture[top : top + side, left : left + side]
        return crop.repeat(factor, axis=0).repeat(factor, axis=1)
    return np.tile(texture[::factor, ::factor], (factor, factor, 1))


def _autocontrast(texture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = texture.min(axis=(0, 1)), texture.max(axis=(0, 1))
    return (texture - low) * (255.0 / np.maximum(high - low, 1.0))


def _posterize(texture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    step = 2.0 ** (8 - int(rng.integers(2, 5)))
    return np.floor(texture / step) * step


#: Appearance changes of DRAEM's texture augmentation (it applies 3 of 10 at random), on float RGB in [0, 255].
_AUGMENTERS = {
    "gamma": lambda t, rng: 255.0 * (t / 255.0) ** rng.uniform(0.5, 2.0),
    "brightness": lambda t, rng: t * rng.uniform(0.8, 1.2) + rng.uniform(-30.0, 30.0),
    "channels": lambda t, rng: t[..., rng.permutation(3)],
    "solarize": lambda t, rng: np.where(t >= rng.uniform(32.0, 128.0), 255.0 - t, t),
    "posterize": _posterize,
    "invert": lambda t, rng: 255.0 - t,
    "autocontrast": _autocontrast,
    "zoom": _zoom,
}


def _texture(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training image turned into a foreign texture (float32 RGB in [0, 255]).

    Rotated by a multiple of 90 degrees, cut into 1, 4 or 16 blocks that are shuffled, then changed
    by 3 of :data:`_AUGMENTERS` drawn at random (DRAEM's recipe, on a training image instead of DTD).
    """
    size = image.shape[0]
    texture = np.rot90(image, k=int(rng.integers(0, 4))).astype(np.float32)
    grid = int(rng.choice([g for g in _SHUFFLE_GRIDS if size % g == 0]))
    if grid > 1:
        block = size // grid
        blocks = texture.reshape(grid, block, grid, block, 3).transpose(0, 2, 1, 3, 4)
        blocks = blocks.reshape(grid * grid, block, block, 3)[rng.permutation(grid * grid)]
        texture = blocks.reshape(grid, grid, block, block, 3).transpose(0, 2, 1, 3, 4).reshape(size, size, 3)
    names = sorted(_AUGMENTERS)
    for k in rng.choice(len(names), size=3, replace=False):
        texture = np.clip(_AUGMENTERS[names[k]](texture, rng), 0.0, 255.0)
    return texture.astype(np.float32)


def synthesize_anomalies(
    images: np.ndarray,
    n_samples: int,
    *,
    seed: int,
    anomaly_probability: float = 0.7,
    max_opacity: float = 0.8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw training samples with DRAEM-style synthetic anomalies from good images.

    Sample ``i`` starts from good image ``i mod n_images``; with probability ``anomaly_probability``
    a texture made from another good image (the donor, see :func:`_texture`) is blended in under a
    Perlin mask:
    ``out = image * (1 - m) + ((1 - beta) * texture + beta * image) * m`` with ``beta`` uniform in
    [0, ``max_opacity``) (DRAEM's opacity).

    Args:
        images: uint8 array of shape (n_images, S, S, 3), the good training images.
        n_samples: Samples to draw.
        seed: Seed of every random draw; the same seed gives the same samples.
        anomaly_probability: Chance that a sample gets an anomaly (the others stay normal).
        max_opacity: Upper bound of the blending factor ``beta``.

    Returns:
        (samples, masks, sources, donors): uint8 array (n_samples, S, S, 3); float32 array
        (n_samples, S, S) of 0/1 values; int64 arrays (n_samples,) giving the good image each sample
        was made from and the one its texture came from (the source itself when it has no anomaly).

    Example:
        >>> imgs = np.zeros((2, 32, 32, 3), dtype=np.uint8)
        >>> [a.shape for a in synthesize_anomalies(imgs, 3, seed=0)]
        [(3, 32, 32, 3), (3, 32, 32), (3,), (3,)]
    """
    if images.ndim != 4 or images.shape[-1] != 3 or images.shape[1] != images.shape[2]:
        msg = f"images of synthesize_anomalies must have shape (n_images, S, S, 3); got {images.shape}."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    n_images, size = len(images), images.shape[1]
    sources = np.arange(n_samples, dtype=np.int64) % max(1, n_images)
    donors = sources.copy()
    samples = images[sources].copy()
    masks = np.zeros((n_samples, size, size), dtype=np.float32)
    for i in range(n_samples):
        if rng.random() >= anomaly_probability:
            continue
        for _ in range(_MAX_MASK_TRIES):
            mask = perlin_mask(size, rng=rng)
            if mask.any():
                break
        else:
            continue
        others = [j for j in range(n_images) if j != sources[i]] or [int(sources[i])]
        donors[i] = int(rng.choice(others))
        texture = _texture(images[donors[i]], rng)
        beta = rng.uniform(0.0, max_opacity)
        image = samples[i].astype(np.float32)
        blended = (1.0 - beta) * texture + beta * image
        m = mask[..., None]
        samples[i] = np.clip(np.where(m, blended, image), 0, 255).round().astype(np.uint8)
        masks[i] = mask
    return samples, masks, sources, donors
