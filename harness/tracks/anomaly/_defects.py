"""Surface defects drawn onto a clean image, and the exact mask of the pixels they change.

Each defect function takes a generator, the clean float image (shape (H, W, 3), 0..255), a
severity in [0, 1] and an optional support (float32 (H, W), 1 where the defect may lie) and
returns the defective float image and the defect's weight per pixel (float32 (H, W) in [0, 1]).
Severity scales size and contrast together: near 0 a defect is a few pixels and a few gray
levels (hard to see on a busy texture), near 1 it is large and plain.

:func:`finish` turns a clean/defective pair into uint8 images and a mask such that the mask is
true exactly where the two uint8 images differ.
"""

from __future__ import annotations

import math

import numpy as np

from harness.data.synth._draw import bezier, blob_distance, coverage, polyline_distance, quantize, window

__all__ = ["PIXEL_DEFECTS", "crack", "finish", "finish_rendered", "hole", "scratch", "spot", "stain"]

#: Pixels whose defect weight is below this are left untouched (and stay out of the mask).
_MIN_WEIGHT = 0.2
_STAIN_COLORS = ((58, 40, 22), (140, 68, 30), (36, 52, 120), (92, 96, 40))
_SPOT_COLORS = ((238, 236, 226), (24, 22, 20), (196, 118, 40), (120, 150, 200), (170, 40, 40))


def _lerp(a: float, b: float, severity: float) -> float:
    """Interpolate from the subtle value ``a`` to the obvious ``b``; mid severities lean obvious."""
    return a + (b - a) * severity**0.75


def _point(rng: np.random.Generator, size: int, support: np.ndarray | None) -> tuple[float, float]:
    """A random pixel position, inside ``support`` when given, away from the image border."""
    margin = 0.08 * size
    if support is not None:
        candidates = np.flatnonzero(support[int(margin) : size - int(margin), int(margin) : size - int(margin)] >= 1)
        if candidates.size:
            inner = size - 2 * int(margin)
            index = int(candidates[rng.integers(candidates.size)])
            return int(margin) + index % inner + rng.random(), int(margin) + index // inner + rng.random()
    return tuple(rng.uniform(margin, size - margin, size=2))


def _harmonics(rng: np.random.Generator, roughness: float) -> np.ndarray:
    ks = np.arange(2, 6, dtype=np.float32)
    amplitudes = rng.uniform(0, roughness, ks.size) / np.sqrt(ks - 1)
    return np.stack([ks, amplitudes, rng.uniform(0, 2 * math.pi, ks.size)], axis=1)


def _stroke_weight(points: np.ndarray, width: float, size: int) -> np.ndarray:
    weight = np.zeros((size, size), dtype=np.float32)
    lo, hi = points.min(axis=0), points.max(axis=0)
    centre = (lo + hi) / 2
    win = window(float(centre[0]), float(centre[1]), float(np.max(hi - lo)) / 2 + width, size, size)
    if win is not None:
        weight[win.rows, win.cols] = coverage(polyline_distance(win.x, win.y, points) - width / 2)
    return weight


def _blob_weight(size: int, cx: float, cy: float, radius: float, harmonics: np.ndarray) -> np.ndarray:
    weight = np.zeros((size, size), dtype=np.float32)
    win = window(cx, cy, radius * 1.6, size, size)
    if win is not None:
        weight[win.rows, win.cols] = coverage(blob_distance(win.x, win.y, cx, cy, radius, harmonics))
    return weight


def _restrict(weight: np.ndarray, support: np.ndarray | None) -> np.ndarray:
    return weight if support is None else weight * support


def scratch(rng, image, severity, support=None):
    """A thin, slightly curved bright (or dark) line, as left by a tool."""
    size = image.shape[0]
    length = _lerp(0.06, 0.45, severity) * size * rng.uniform(0.8, 1.2)
    width = _lerp(0.8, 2.2, severity)
    contrast = _lerp(7, 85, severity) * (1 if rng.random() < 0.7 else -1)
    start = np.asarray(_point(rng, size, support))
    direction = rng.uniform(0, 2 * math.pi)
    end = start + length * np.asarray((math.cos(direction), math.sin(direction)))
    normal = np.asarray((-math.sin(direction), math.cos(direction)))
    control = (start + end) / 2 + normal * rng.uniform(-0.25, 0.25) * length
    weight = _restrict(_stroke_weight(bezier(start, control, end), width, size), support)
    return image + contrast * weight[..., None], weight


def crack(rng, image, severity, support=None):
    """A dark jagged line (a random walk), with a side branch when severe."""
    size = image.shape[0]
    n_steps = 5 + int(10 * severity)
    step = _lerp(0.025, 0.045, severity) * size
    width = _lerp(0.7, 1.9, severity)
    darkening = _lerp(0.14, 0.75, severity)
    points = [np.asarray(_point(rng, size, support))]
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(n_steps):
        heading += rng.normal(0, 0.55)
        points.append(points[-1] + step * rng.uniform(0.6, 1.2) * np.asarray((math.cos(heading), math.sin(heading))))
    weight = _stroke_weight(np.asarray(points), width, size)
    if severity > 0.5:
        branch = [points[len(points) // 2]]
        heading = rng.uniform(0, 2 * math.pi)
        for _ in range(n_steps // 3):
            heading += rng.normal(0, 0.55)
            branch.append(branch[-1] + step * np.asarray((math.cos(heading), math.sin(heading))))
        weight = np.maximum(weight, _stroke_weight(np.asarray(branch), width * 0.7, size))
    weight = _restrict(weight, support)
    return image * (1 - darkening * weight[..., None]), weight


def hole(rng, image, severity, support=None):
    """A dark pit with an irregular rim; the far side of the rim catches the light."""
    size = image.shape[0]
    radius = _lerp(1.4, 0.11 * size, severity) * rng.uniform(0.8, 1.2)
    depth = _lerp(0.15, 0.85, severity)
    cx, cy = _point(rng, size, support)
    weight = _restrict(_blob_weight(size, cx, cy, radius, _harmonics(rng, 0.25)), support)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    light = rng.uniform(0, 2 * math.pi)
    rim = np.clip(((xs - cx) * math.cos(light) + (ys - cy) * math.sin(light)) / max(radius, 1.0), -1, 1)
    shade = 1 - depth * (0.8 - 0.2 * rim)
    dark = np.asarray((18, 16, 14), dtype=np.float32)
    mixed = image * shade[..., None] + dark * (1 - shade[..., None]) * 0.5
    w = weight[..., None]
    return image * (1 - w) + mixed * w, weight


def stain(rng, image, severity, support=None):
    """A translucent coloured blot (oil, rust, ink) fading towards its edge."""
    size = image.shape[0]
    radius = _lerp(2.0, 0.2 * size, severity) * rng.uniform(0.7, 1.3)
    opacity = _lerp(0.07, 0.6, severity)
    color = np.asarray(_STAIN_COLORS[rng.integers(len(_STAIN_COLORS))], dtype=np.float32)
    cx, cy = _point(rng, size, support)
    weight = _restrict(_blob_weight(size, cx, cy, radius, _harmonics(rng, 0.35)), support)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    fade = 0.6 + 0.4 * np.clip(1 - np.hypot(xs - cx, ys - cy) / max(radius, 1.0), 0, 1)
    alpha = (opacity * weight * fade)[..., None]
    return image * (1 - alpha) + color * alpha, weight


def spot(rng, image, severity, support=None):
    """Contamination: an opaque foreign particle, or a fibre (a thin curved thread)."""
    size = image.shape[0]
    color = np.asarray(_SPOT_COLORS[rng.integers(len(_SPOT_COLORS))], dtype=np.float32)
    opacity = _lerp(0.3, 1.0, severity)
    if rng.random() < 0.5:
        radius = _lerp(1.0, 0.08 * size, severity) * rng.uniform(0.8, 1.2)
        cx, cy = _point(rng, size, support)
        weight = _blob_weight(size, cx, cy, radius, _harmonics(rng, 0.4))
    else:
        length = _lerp(0.05, 0.35, severity) * size
        start = np.asarray(_point(rng, size, support))
        direction = rng.uniform(0, 2 * math.pi)
        end = start + length * np.asarray((math.cos(direction), math.sin(direction)))
        control = (start + end) / 2 + rng.normal(0, 0.3, 2) * length
        weight = _stroke_weight(bezier(start, control, end), _lerp(0.8, 1.6, severity), size)
    grain = 1 + 0.08 * rng.standard_normal(image.shape[:2]).astype(np.float32)
    alpha = (opacity * weight)[..., None]
    return image * (1 - alpha) + (color * grain[..., None]) * alpha, weight


#: Pixel defect name -> function(rng, image, severity, support) -> (image, weight).
PIXEL_DEFECTS = {"scratch": scratch, "crack": crack, "hole": hole, "stain": stain, "contamination": spot}


def finish(clean: np.ndarray, defective: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantize a pixel defect; every pixel with weight >= 0.2 changes by at least one level, no other does.

    Returns:
        The defective uint8 image of shape (H, W, 3) and its bool mask of shape (H, W).
    """
    base = quantize(clean)
    mask = weight >= _MIN_WEIGHT
    out = np.where(mask[..., None], quantize(defective), base)
    unchanged = mask & ~(out != base).any(axis=-1)
    if unchanged.any():
        # Push a pixel that rounding left unchanged by one level in the defect's direction
        # (away from 0 or 255 when the pixel is saturated in every channel).
        direction = np.sign((defective - clean).mean(axis=-1))
        brightness = base.astype(np.int16).mean(axis=-1)
        direction = np.where(direction == 0, np.where(brightness < 128, 1, -1), direction)
        direction = np.where((base == 255).all(axis=-1), -1, np.where((base == 0).all(axis=-1), 1, direction))
        pushed = np.clip(base.astype(np.int16) + direction[..., None].astype(np.int16), 0, 255).astype(np.uint8)
        out = np.where(unchanged[..., None], pushed, out)
    return out, mask


def finish_rendered(clean: np.ndarray, defective: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quantize a re-rendered defect; the mask is where the uint8 images differ."""
    out = quantize(defective)
    return out, (out != quantize(clean)).any(axis=-1)
