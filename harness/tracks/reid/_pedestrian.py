"""The drawn pedestrians of the synthetic re-ID data: appearance vocabularies, sampling and drawing.

A pedestrian is an :class:`Appearance` (fixed per identity) drawn in a :class:`Pose` (per image) from one of
:data:`VIEWS` by :func:`draw_person`, with signed-distance shapes (:mod:`harness.data.synth._draw`) on a float
RGB canvas. :mod:`harness.tracks.reid.synth` adds the cameras, the splits and the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from harness.data.synth._draw import sdf_box, sdf_segment

__all__ = ["BAGS", "CLOTHES", "HAIR_LENGTHS", "LOWER_KINDS", "UPPER_PATTERNS", "VIEWS", "Appearance", "Pose",
           "color", "draw_person", "sample_appearance"]

#: Directions a person is seen from.
VIEWS = ("front", "back", "left", "right")
#: (name, RGB, weight as upper garment, weight as lower garment): few colours, so many people share them.
CLOTHES = (
    ("black", (30, 30, 33), 3.0, 5.0),
    ("charcoal", (62, 62, 68), 2.0, 2.5),
    ("grey", (122, 122, 125), 1.5, 1.5),
    ("white", (222, 222, 216), 2.5, 0.6),
    ("navy", (34, 44, 86), 1.5, 2.0),
    ("blue", (52, 92, 165), 1.2, 0.6),
    ("denim", (72, 96, 134), 0.6, 3.0),
    ("red", (165, 40, 42), 1.2, 0.3),
    ("maroon", (102, 32, 42), 0.6, 0.3),
    ("green", (52, 104, 62), 0.7, 0.3),
    ("khaki", (172, 152, 112), 0.7, 1.5),
    ("brown", (104, 72, 50), 0.6, 1.0),
    ("yellow", (205, 175, 62), 0.5, 0.1),
    ("pink", (205, 125, 145), 0.6, 0.2),
)
_SKIN = ((236, 192, 160), (224, 172, 135), (198, 140, 100), (160, 108, 72), (110, 74, 50))
_HAIR = ((20, 18, 18), (55, 38, 28), (100, 70, 45), (190, 160, 110), (150, 150, 150))
_SHOES = ((25, 25, 25), (220, 220, 220), (90, 60, 40), (110, 110, 115))
#: Fixed vocabularies of an appearance, with their probabilities.
UPPER_PATTERNS = MappingProxyType({"plain": 0.42, "stripes": 0.18, "checks": 0.12, "logo": 0.16, "jacket": 0.12})
LOWER_KINDS = MappingProxyType({"trousers": 0.62, "shorts": 0.2, "skirt": 0.18})
BAGS = MappingProxyType({"none": 0.45, "backpack": 0.3, "shoulder": 0.25})
HAIR_LENGTHS = MappingProxyType({"short": 0.5, "medium": 0.25, "long": 0.25})


@dataclass(frozen=True)
class Appearance:
    """What stays fixed for one person; lengths in units of body height, colours RGB 0..255, sides +-1."""

    skin: tuple[float, ...]
    hair: tuple[float, ...]
    hair_length: str
    hat: tuple[float, ...] | None
    upper: str
    upper_rgb: tuple[float, ...]
    second_rgb: tuple[float, ...]
    pattern: str
    pattern_scale: float
    long_sleeves: bool
    lower: str
    lower_rgb: tuple[float, ...]
    lower_kind: str
    skirt_end: float
    shoes: tuple[float, ...]
    bag: str
    bag_rgb: tuple[float, ...]
    bag_side: int
    head_r: float
    shoulder: float
    hip: float
    waist: float
    leg_w: float
    arm_w: float


@dataclass(frozen=True)
class Pose:
    """Placement and pose in one image: body centre and top in pixels, body height ``hp`` in pixels."""

    cx: float
    top: float
    hp: float
    stride: float
    cut: str



def _pick(rng: np.random.Generator, table) -> str:
    weights = np.asarray(list(table.values()))
    return list(table)[int(rng.choice(len(table), p=weights / weights.sum()))]


def color(rng: np.random.Generator, rgb, spread: float = 0.05) -> tuple[float, ...]:
    return tuple(float(c) for c in np.clip(np.asarray(rgb) * np.exp(rng.normal(0, spread, 3)), 0, 255))


def _cloth(rng: np.random.Generator, column: int) -> tuple[str, tuple[float, ...]]:
    weights = np.asarray([row[column] for row in CLOTHES])
    name, rgb = CLOTHES[int(rng.choice(len(CLOTHES), p=weights / weights.sum()))][:2]
    return name, color(rng, rgb)


def sample_appearance(rng: np.random.Generator) -> Appearance:
    upper, upper_rgb = _cloth(rng, 2)
    second, second_rgb = _cloth(rng, 2)
    while second == upper:
        second, second_rgb = _cloth(rng, 2)
    lower, lower_rgb = _cloth(rng, 3)
    build = rng.uniform(0.88, 1.15)
    bag = _pick(rng, BAGS)
    return Appearance(
        skin=color(rng, _SKIN[int(rng.integers(len(_SKIN)))]),
        hair=color(rng, _HAIR[int(rng.integers(len(_HAIR)))]),
        hair_length=_pick(rng, HAIR_LENGTHS),
        hat=_cloth(rng, 2)[1] if rng.random() < 0.12 else None,
        upper=upper,
        upper_rgb=upper_rgb,
        second_rgb=second_rgb,
        pattern=_pick(rng, UPPER_PATTERNS),
        pattern_scale=float(rng.uniform(0.7, 1.4)),
        long_sleeves=bool(rng.random() < 0.6),
        lower=lower,
        lower_rgb=lower_rgb,
        lower_kind=_pick(rng, LOWER_KINDS),
        skirt_end=float(rng.uniform(0.66, 0.8)),
        shoes=color(rng, _SHOES[int(rng.integers(len(_SHOES)))]),
        bag=bag,
        bag_rgb=_cloth(rng, 3)[1],
        bag_side=int(rng.choice((-1, 1))),
        head_r=float(rng.uniform(0.057, 0.068)),
        shoulder=float(0.185 * build),
        hip=float(0.14 * build * rng.uniform(0.92, 1.1)),
        waist=float(rng.uniform(0.46, 0.53)),
        leg_w=float(0.058 * build * rng.uniform(0.9, 1.1)),
        arm_w=float(0.038 * build),
    )


def _ellipse(u, v, cu: float, cv: float, ru: float, rv: float):
    return (np.sqrt(((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2) - 1) * min(ru, rv)


def _trapezoid(u, v, cu: float, top: float, bottom: float, half_top: float, half_bottom: float, rounding: float):
    """Approximate signed distance to a vertical trapezoid with rounded corners."""
    half = half_top + (half_bottom - half_top) * np.clip((v - top) / (bottom - top), 0, 1)
    du = np.abs(u - cu) - half + rounding
    dv = np.abs(v - (top + bottom) / 2) - (bottom - top) / 2 + rounding
    return np.sqrt(np.maximum(du, 0) ** 2 + np.maximum(dv, 0) ** 2) + np.minimum(np.maximum(du, dv), 0) - rounding


class _Painter:
    """Paints body parts given as signed distances in body units (u across, v down from the head top)."""

    def __init__(self, canvas: np.ndarray, pose: Pose) -> None:
        height, width = canvas.shape[:2]
        self.canvas, self.hp = canvas, pose.hp
        self.u = ((np.arange(width, dtype=np.float32) + 0.5 - pose.cx) / pose.hp)[None, :]
        self.v = ((np.arange(height, dtype=np.float32) + 0.5 - pose.top) / pose.hp)[:, None]

    def fill(self, dist: np.ndarray, rgb, *, depth: float = 0.0, mix=None, second=None) -> None:
        """Blend ``rgb`` where ``dist`` (body units, shape (H, W)) is negative; shade by ``depth`` into the part."""
        alpha = np.clip(0.5 - dist * self.hp, 0, 1)
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size == 0:
            return
        win = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        alpha = alpha[win][..., None]
        color = np.asarray(rgb, dtype=np.float32)
        if mix is not None:
            mix = np.broadcast_to(mix, dist.shape)[win][..., None]
            color = color + (np.asarray(second, dtype=np.float32) - color) * mix
        if depth:
            color = color * (0.72 + 0.28 * np.clip(-dist[win] / depth, 0, 1))[..., None]
        region = self.canvas[win]
        region *= 1 - alpha
        region += alpha * color


def _pattern(app: Appearance, p: _Painter, view: str, narrow: float):
    """Mix of the second colour over the upper garment, in [0, 1], or None for a plain one."""
    u, v, scale = p.u, p.v, app.pattern_scale
    if app.pattern == "stripes":
        return np.clip(0.5 + 3 * np.sin(2 * np.pi * v / (0.045 * scale)), 0, 1)
    if app.pattern == "checks":
        cell = 0.04 * scale
        return np.clip(0.5 + 3 * np.sin(np.pi * u / cell) * np.sin(np.pi * (v - 0.15) / cell), 0, 1)
    if app.pattern == "logo" and view == "front":
        return np.clip(0.5 - sdf_box(u, v - 0.25, 0.04 * scale, 0.032 * scale) * p.hp, 0, 1)
    if app.pattern == "jacket" and view == "front":
        return np.clip(0.5 - (np.abs(u) - 0.03 * scale * narrow) * p.hp, 0, 1) * (v > 0.14)
    return None


def _legs(app: Appearance, p: _Painter, view: str, facing: int, stride: float) -> None:
    side = view in ("left", "right")
    u, v = p.u, p.v
    hip_v, foot_v = app.waist - 0.02, 0.955
    gap = 0.2 * app.hip if side else 0.55 * app.hip
    feet = (facing * stride, -facing * stride) if side else (-gap, gap)
    lifts = (0.0, 0.0) if side else (max(stride, 0) * 0.15, max(-stride, 0) * 0.15)
    bare = app.lower_kind != "trousers"
    for sign, foot, lift in zip((-1, 1), feet, lifts, strict=True):
        a, b = (sign * gap * 0.9, hip_v), (foot, foot_v - lift)
        p.fill(sdf_segment(u, v, a, b, app.leg_w), app.skin if bare else app.lower_rgb, depth=app.leg_w)
        if app.lower_kind == "shorts":
            knee = (a[0] + 0.45 * (b[0] - a[0]), a[1] + 0.45 * (b[1] - a[1]))
            p.fill(sdf_segment(u, v, a, knee, app.leg_w * 1.2), app.lower_rgb, depth=app.leg_w)
        length = 1.9 if side else 1.2
        shoe = _ellipse(u, v, foot + (facing * 0.012 if side else 0), b[1] + 0.012, app.leg_w * length, 0.02)
        p.fill(shoe, app.shoes)
    hip = app.hip * (0.7 if side else 1.0)
    if app.lower_kind == "skirt":
        p.fill(_trapezoid(u, v, 0, app.waist - 0.02, app.skirt_end, hip, hip * 1.45, 0.01), app.lower_rgb, depth=hip)
    else:
        p.fill(_trapezoid(u, v, 0, app.waist - 0.03, app.waist + 0.07, hip, hip * 0.95, 0.01), app.lower_rgb)


def _arm(app: Appearance, p: _Painter, shoulder: tuple[float, float], hand: tuple[float, float]) -> None:
    u, v = p.u, p.v
    p.fill(
        sdf_segment(u, v, shoulder, hand, app.arm_w), app.upper_rgb if app.long_sleeves else app.skin, depth=app.arm_w
    )
    if not app.long_sleeves:
        elbow = ((shoulder[0] + hand[0]) / 2, (shoulder[1] + hand[1]) / 2)
        p.fill(sdf_segment(u, v, shoulder, elbow, app.arm_w * 1.15), app.upper_rgb, depth=app.arm_w)
    p.fill(np.sqrt((u - hand[0]) ** 2 + (v - hand[1] - 0.01) ** 2) - app.arm_w * 1.1, app.skin)


def _head(app: Appearance, p: _Painter, view: str, facing: int) -> None:
    u, v, r = p.u, p.v, app.head_r
    side = view in ("left", "right")
    cu, ru = facing * 0.005 if side else 0.0, r * 0.8
    p.fill(sdf_segment(u, v, (0, 0.1), (0, 0.15), 0.02), app.skin)
    if view == "back":
        p.fill(_ellipse(u, v, cu, r, ru * 1.08, r * 1.02), app.hair, depth=ru)
    elif side:
        p.fill(_ellipse(u, v, cu, r, ru, r), app.skin, depth=ru)
        p.fill(_ellipse(u, v, cu - facing * 0.014, r - 0.008, ru * 0.92, r * 0.94), app.hair, depth=ru)
    else:
        short = app.hair_length == "short"
        p.fill(_ellipse(u, v, cu, r - (0.012 if short else 0.006), ru * (1.04 if short else 1.1), r), app.hair)
        p.fill(_ellipse(u, v, cu, r + 0.01, ru * 0.9, r * 0.86), app.skin, depth=ru)
    if app.hat is not None:
        p.fill(_trapezoid(u, v, cu, -0.01, r - 0.028, ru * 1.1, ru * 1.15, 0.01), app.hat)
        if view != "back":
            brim_u, brim_r = (cu + facing * ru * 0.9, ru * 0.6) if side else (cu, ru * 1.3)
            p.fill(_ellipse(u, v, brim_u, r - 0.028, brim_r, 0.007), app.hat)


def _long_hair(app: Appearance, p: _Painter, view: str, facing: int) -> None:
    if app.hair_length == "short" or view == "front" and app.hair_length == "medium":
        return
    bottom = 0.27 if app.hair_length == "long" else 0.19
    ru = app.head_r * 0.8
    cu, half = (-facing * ru * 0.5, ru * 0.6) if view in ("left", "right") else (0.0, ru * 1.1)
    p.fill(_trapezoid(p.u, p.v, cu, app.head_r, bottom, half, half * 1.15, 0.02), app.hair, depth=half)


def _bag(app: Appearance, p: _Painter, view: str, facing: int, sh: float, hip: float) -> None:
    u, v, w = p.u, p.v, app.waist
    if app.bag == "backpack":
        if view == "back":
            p.fill(_trapezoid(u, v, 0, 0.19, 0.41, sh * 0.8, sh * 0.85, 0.025), app.bag_rgb, depth=sh)
        elif view == "front":
            for sign in (-1, 1):
                p.fill(sdf_segment(u, v, (sign * sh * 0.55, 0.155), (sign * sh * 0.6, 0.36), 0.011), app.bag_rgb)
        else:
            p.fill(_trapezoid(u, v, -facing * (sh + 0.035), 0.19, 0.41, 0.04, 0.042, 0.015), app.bag_rgb, depth=0.04)
    elif app.bag == "shoulder":
        if view in ("front", "back"):
            side = app.bag_side * (1 if view == "front" else -1)
            p.fill(sdf_segment(u, v, (-side * sh * 0.7, 0.16), (side * (hip + 0.02), w - 0.04), 0.007), app.bag_rgb)
            p.fill(sdf_box(u - side * (hip + 0.035), v - w + 0.01, 0.045, 0.04, 0.01), app.bag_rgb, depth=0.04)
        elif app.bag_side == (1 if view == "right" else -1):
            p.fill(sdf_segment(u, v, (0, 0.16), (0, w - 0.05), 0.007), app.bag_rgb)
            p.fill(sdf_box(u + facing * 0.01, v - w + 0.01, 0.04, 0.045, 0.01), app.bag_rgb, depth=0.04)


def draw_person(canvas: np.ndarray, app: Appearance, view: str, pose: Pose) -> None:
    """Paint a pedestrian onto ``canvas`` (float32 array of shape (H, W, 3), 0..255), in place."""
    p = _Painter(canvas, pose)
    side, facing = view in ("left", "right"), -1 if view == "left" else 1
    narrow = 0.7 if side else 1.0
    sh, hip, s = app.shoulder * narrow, app.hip * narrow, pose.stride
    if view == "front":
        _long_hair(app, p, view, facing)
    if side:
        _arm(app, p, (0.0, 0.17), (facing * s * 0.9, app.waist + 0.03))
    _legs(app, p, view, facing, s)
    torso = _trapezoid(p.u, p.v, 0, 0.145, app.waist + 0.01, sh, hip * 1.02, 0.03)
    p.fill(torso, app.upper_rgb, depth=sh, mix=_pattern(app, p, view, narrow), second=app.second_rgb)
    if view != "front":
        _long_hair(app, p, view, facing)
    _bag(app, p, view, facing, sh, hip)
    if side:
        _arm(app, p, (-facing * 0.005, 0.17), (-facing * s * 0.9, app.waist + 0.03))
    else:
        lift = 0.3 * abs(s)
        for sign in (-1, 1):
            _arm(app, p, (sign * (sh - app.arm_w * 0.8), 0.17), (sign * (sh + 0.012), app.waist + 0.03 - lift))
    _head(app, p, view, facing)
