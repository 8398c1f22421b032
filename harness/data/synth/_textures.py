"""Defect-free texture images: crops of the photographs scikit-image ships, and procedural ones.

Every function takes a generator and the image side and returns a float32 array of shape
(size, size, 3) with values in 0..255 (sensor noise and lighting included). Images of one
texture differ by crop, orientation, scale, phase and lighting, as photographs of one material do.

Sources of the photographs: ``skimage.data.brick``, ``grass`` and ``gravel`` (512 x 512 grayscale,
public domain, see the scikit-image data README).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from harness.data.synth._draw import full_window, resize, smooth_noise

__all__ = ["TEXTURES", "fabric", "photo_texture", "wood"]

#: RGB tint applied to each grayscale photograph.
_TINTS = {
    "brick": (1.0, 0.74, 0.62),
    "grass": (0.78, 1.0, 0.58),
    "gravel": (1.0, 0.97, 0.9),
}
#: Sensor noise, standard deviation in gray levels.
_NOISE_STD = 1.5


@functools.cache
def _photo(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)(), dtype=np.float32)


def _lighting(rng: np.random.Generator, size: int, gain_spread: float, gradient: float) -> np.ndarray:
    """Multiplicative lighting field of shape (size, size, 1): global gain times a linear ramp."""
    win = full_window(size, size)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = ((win.x - size / 2) * math.cos(theta) + (win.y - size / 2) * math.sin(theta)) / size
    gain = rng.uniform(1 - gain_spread, 1 + gain_spread)
    return (gain * (1 + rng.uniform(0, gradient) * 2 * ramp))[..., None].astype(np.float32)


def _finish(rng: np.random.Generator, rgb: np.ndarray, *, gain_spread: float = 0.03, gradient: float = 0.04):
    size = rgb.shape[0]
    out = rgb * _lighting(rng, size, gain_spread, gradient)
    out += rng.normal(0, _NOISE_STD, size=out.shape).astype(np.float32)
    return out.astype(np.float32)


def photo_texture(name: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """Random crop of a scikit-image photograph: orientation, zoom (about 2x down) and lighting vary."""
    photo = _photo(name)
    side = photo.shape[0]
    crop = min(side, round(2 * size * rng.uniform(0.9, 1.1)))
    y0, x0 = rng.integers(0, side - crop + 1, size=2)
    patch = photo[y0 : y0 + crop, x0 : x0 + crop]
    patch = np.rot90(patch, k=int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    gray = resize(patch, size, size)
    rgb = gray[..., None] * np.asarray(_TINTS[name], dtype=np.float32)
    return _finish(rng, rgb)


def fabric(rng: np.random.Generator, size: int) -> np.ndarray:
    """Plain-weave fabric: over/under warp and weft threads with per-thread tone and fibre noise."""
    win = full_window(size, size)
    period = size / 16 * rng.uniform(0.96, 1.04)
    theta = math.radians(rng.uniform(-3, 3))
    c, s = math.cos(theta), math.sin(theta)
    u = (win.x * c + win.y * s) / period + rng.uniform(0, 2)
    v = (-win.x * s + win.y * c) / period + rng.uniform(0, 2)
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    n_threads = int(size / period) + 8
    warp_tone = rng.normal(1, 0.14, n_threads).astype(np.float32)
    weft_tone = rng.normal(1, 0.14, n_threads).astype(np.float32)
    warp_on_top = ((iu + iv) % 2) == 0
    profile_u = np.sqrt(np.sin(math.pi * fu))  # across a warp thread
    profile_v = np.sqrt(np.sin(math.pi * fv))  # across a weft thread
    warp = profile_u * (0.82 + 0.18 * np.sin(math.pi * fv)) * warp_tone[iu.astype(int) % n_threads]
    weft = profile_v * (0.82 + 0.18 * np.sin(math.pi * fu)) * weft_tone[iv.astype(int) % n_threads]
    shade = np.where(warp_on_top, warp, weft)
    fibres = smooth_noise(rng, size, size, size // 2) * 0.10
    shade = 0.2 + 0.8 * shade + fibres
    color = np.asarray((72, 98, 150), dtype=np.float32)
    return _finish(rng, shade[..., None] * color * 1.35)


def wood(rng: np.random.Generator, size: int) -> np.ndarray:
    """Wood grain: distorted growth rings seen as stripes, with fibres along the grain."""
    win = full_window(size, size)
    theta = math.radians(90 + rng.uniform(-6, 6))  # grain runs roughly vertically
    c, s = math.cos(theta), math.sin(theta)
    along = (win.x - size / 2) * c + (win.y - size / 2) * s
    across = -(win.x - size / 2) * s + (win.y - size / 2) * c
    ring_px = size / 9 * rng.uniform(0.85, 1.15)
    bend = rng.uniform(-1, 1) * (along / size) ** 2 * 2.5
    warp = smooth_noise(rng, size, size, 4) * 0.55
    phase = across / ring_px + bend + warp + rng.uniform(0, 1)
    ring = phase - np.floor(phase)
    late = np.clip((ring - 0.62) / 0.3, 0, 1) ** 1.5  # dark latewood band at the end of each ring
    n_fibres = 4 * size
    fibre_profile = rng.normal(0, 1, n_fibres).astype(np.float32)
    fibre_index = np.clip(((across + size) * 2).astype(int), 0, n_fibres - 1)
    fibres = fibre_profile[fibre_index] * 0.04 + smooth_noise(rng, size, size, size // 4) * 0.03
    light = np.asarray((206, 158, 108), dtype=np.float32)
    dark = np.asarray((150, 98, 58), dtype=np.float32)
    mix = np.clip(late * 0.75 + fibres, 0, 1)[..., None]
    return _finish(rng, light * (1 - mix) + dark * mix)


#: Texture name -> function(rng, size) returning a float32 (size, size, 3) image.
TEXTURES = {
    "brick": functools.partial(photo_texture, "brick"),
    "grass": functools.partial(photo_texture, "grass"),
    "gravel": functools.partial(photo_texture, "gravel"),
    "fabric": fabric,
    "wood": wood,
}
