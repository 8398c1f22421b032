"""Anti-aliased drawing on float images with signed distances, evaluated in a shape's window only.

Conventions: images are float32 arrays of shape (H, W, 3) holding 0..255 values; a pixel's centre
is at ``(x + 0.5, y + 0.5)``; a signed distance is negative inside a shape, and a pixel's
coverage is ``clip(0.5 - distance_px, 0, 1)`` (a one-pixel linear ramp across the edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

__all__ = [
    "Pose",
    "Window",
    "bezier",
    "blob_distance",
    "coverage",
    "full_window",
    "paint",
    "polyline_distance",
    "quantize",
    "resize",
    "sdf_box",
    "sdf_circle",
    "sdf_hexagon",
    "sdf_segment",
    "smooth_noise",
    "window",
]


@dataclass(frozen=True)
class Window:
    """A rectangle of the image: slices into it and the pixel-centre coordinates inside it.

    ``x`` is float32 of shape (1, w) and ``y`` of shape (h, 1), so expressions broadcast to (h, w).
    """

    rows: slice
    cols: slice
    x: np.ndarray
    y: np.ndarray


def window(cx: float, cy: float, radius: float, height: int, width: int) -> Window | None:
    """Return the window of pixels within ``radius`` (+1 px) of ``(cx, cy)``, or None if off-image."""
    x0 = max(0, math.floor(cx - radius - 1))
    x1 = min(width, math.ceil(cx + radius + 2))
    y0 = max(0, math.floor(cy - radius - 1))
    y1 = min(height, math.ceil(cy + radius + 2))
    if x0 >= x1 or y0 >= y1:
        return None
    x = (np.arange(x0, x1, dtype=np.float32) + 0.5)[None, :]
    y = (np.arange(y0, y1, dtype=np.float32) + 0.5)[:, None]
    return Window(slice(y0, y1), slice(x0, x1), x, y)


def full_window(height: int, width: int) -> Window:
    """Return the window that covers the whole image."""
    win = window(width / 2, height / 2, max(height, width), height, width)
    assert win is not None
    return win


@dataclass(frozen=True)
class Pose:
    """Placement of a shape: centre in pixels, rotation in radians, ``scale`` pixels per unit."""

    cx: float
    cy: float
    angle: float
    scale: float

    def to_local(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map pixel coordinates to the shape's units (rotated frame centred on the pose)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.cx, y - self.cy
        return (dx * c + dy * s) / self.scale, (-dx * s + dy * c) / self.scale

    def to_pixels(self, u: float, v: float) -> tuple[float, float]:
        """Map a point in units to pixel coordinates."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        return self.cx + (u * c - v * s) * self.scale, self.cy + (u * s + v * c) * self.scale

    def window(self, u: float, v: float, radius: float, height: int, width: int) -> Window | None:
        """Window around the point ``(u, v)`` (units) with ``radius`` in units."""
        cx, cy = self.to_pixels(u, v)
        return window(cx, cy, radius * self.scale, height, width)


def coverage(distance_px: np.ndarray) -> np.ndarray:
    """Fraction of each pixel inside a shape, from its signed distance in pixels."""
    return np.clip(0.5 - distance_px, 0.0, 1.0).astype(np.float32)


def sdf_circle(u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Signed distance to a circle centred on the origin."""
    return np.sqrt(u * u + v * v) - radius


def sdf_box(u: np.ndarray, v: np.ndarray, half_u: float, half_v: float, rounding: float = 0.0) -> np.ndarray:
    """Signed distance to an axis-aligned box centred on the origin, corners rounded by ``rounding``."""
    du = np.abs(u) - (half_u - rounding)
    dv = np.abs(v) - (half_v - rounding)
    outside = np.sqrt(np.maximum(du, 0.0) ** 2 + np.maximum(dv, 0.0) ** 2)
    inside = np.minimum(np.maximum(du, dv), 0.0)
    return outside + inside - rounding


def sdf_hexagon(u: np.ndarray, v: np.ndarray, inradius: float) -> np.ndarray:
    """Signed distance (exact inside, a bound outside) to a regular hexagon with a vertex on +u."""
    dist = None
    for k in range(6):
        theta = math.pi / 6 + k * math.pi / 3
        d = u * math.cos(theta) + v * math.sin(theta)
        dist = d if dist is None else np.maximum(dist, d)
    return dist - inradius


def sdf_segment(u: np.ndarray, v: np.ndarray, a: tuple[float, float], b: tuple[float, float], half_width: float):
    """Signed distance to a capsule (segment from ``a`` to ``b`` thickened by ``half_width``)."""
    bu, bv = b[0] - a[0], b[1] - a[1]
    pu, pv = u - a[0], v - a[1]
    t = np.clip((pu * bu + pv * bv) / max(bu * bu + bv * bv, 1e-12), 0.0, 1.0)
    return np.sqrt((pu - t * bu) ** 2 + (pv - t * bv) ** 2) - half_width


def polyline_distance(x: np.ndarray, y: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Unsigned distance from each pixel to a polyline given as float array of shape (n_points, 2)."""
    best = None
    for a, b in zip(points[:-1], points[1:], strict=True):
        d = sdf_segment(x, y, (float(a[0]), float(a[1])), (float(b[0]), float(b[1])), 0.0)
        best = d if best is None else np.minimum(best, d)
    return best


def bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n_points: int = 24) -> np.ndarray:
    """Sample a quadratic Bezier curve; returns float array of shape (n_points, 2)."""
    t = np.linspace(0.0, 1.0, n_points)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def blob_distance(x: np.ndarray, y: np.ndarray, cx: float, cy: float, radius: float, harmonics: np.ndarray):
    """Signed distance (approximate) to an irregular round blob.

    The boundary radius is ``radius * (1 + sum_k a_k cos(k phi + p_k))`` for ``harmonics`` rows
    ``(k, a_k, p_k)``.
    """
    dx, dy = x - cx, y - cy
    rho = np.sqrt(dx * dx + dy * dy)
    phi = np.arctan2(dy, dx)
    edge = np.ones_like(rho)
    for k, amplitude, phase in harmonics:
        edge = edge + amplitude * np.cos(k * phi + phase)
    return rho - radius * edge


def paint(canvas: np.ndarray, win: Window, alpha: np.ndarray, color) -> None:
    """Blend ``color`` (RGB triple or (h, w, 3) array) into ``canvas`` inside ``win`` with ``alpha``."""
    region = canvas[win.rows, win.cols]
    a = alpha[..., None]
    region *= 1.0 - a
    region += a * np.asarray(color, dtype=np.float32)


def resize(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a float32 (h, w) array with bicubic interpolation (deterministic, via Pillow)."""
    img = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32))
    return np.asarray(img.resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32)


def smooth_noise(rng: np.random.Generator, height: int, width: int, n_cells: int) -> np.ndarray:
    """Smooth random field, float32 of shape (height, width), roughly zero-mean, unit-scale.

    ``n_cells`` random values per side are interpolated bicubically, so features are about
    ``size / n_cells`` pixels wide.
    """
    grid = rng.standard_normal((n_cells + 1, n_cells + 1)).astype(np.float32)
    return resize(grid, height, width)


def quantize(image: np.ndarray) -> np.ndarray:
    """Round a float image to uint8, clipping to 0..255."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)
