"""Defect-free object images: a hex nut and a small printed circuit board, drawn from a scene.

A scene holds everything random about one image (pose, lighting, background, sensor noise), so it
renders the same pixels twice; defects that change the object itself (a chipped corner, a missing
or misplaced part) edit a copy of the scene and render it again. Every renderer returns a float32
array of shape (size, size, 3) with values in 0..255, and the object's support: float32 of shape
(size, size), 1 where the object's surface is, used to place surface defects.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from harness.data.synth._draw import (
    Pose,
    coverage,
    full_window,
    paint,
    sdf_box,
    sdf_circle,
    sdf_hexagon,
    sdf_segment,
    smooth_noise,
)

__all__ = ["PCB_PARTS", "NutScene", "PcbScene", "nut_scene", "pcb_scene", "render_nut", "render_pcb"]

_NOISE_STD = 1.5


def _surface(rng: np.random.Generator, size: int, color: tuple[float, float, float], mottle: float) -> np.ndarray:
    tone = 1 + mottle * smooth_noise(rng, size, size, 6) + 0.5 * mottle * smooth_noise(rng, size, size, size // 4)
    return tone[..., None] * np.asarray(color, dtype=np.float32)


def _light_field(size: int, angle: float, gain: float, gradient: float) -> np.ndarray:
    win = full_window(size, size)
    ramp = ((win.x - size / 2) * math.cos(angle) + (win.y - size / 2) * math.sin(angle)) / size
    return (gain * (1 + 2 * gradient * ramp))[..., None].astype(np.float32)


# ----------------------------------------------------------------------------------------- nut


@dataclass(frozen=True)
class NutScene:
    """Everything random about one nut image. Units: the hexagon's inradius is 1."""

    size: int
    pose: Pose
    light_angle: float
    gain: float
    gradient: float
    background: np.ndarray = field(repr=False)
    noise: np.ndarray = field(repr=False)
    chips: tuple[tuple[float, float, float], ...] = ()  # (u, v, radius) bites taken out of the body


def nut_scene(rng: np.random.Generator, size: int) -> NutScene:
    """Draw a random pose (any rotation, small shift and scale) and lighting for a nut."""
    pose = Pose(
        cx=size / 2 + rng.uniform(-0.06, 0.06) * size,
        cy=size / 2 + rng.uniform(-0.06, 0.06) * size,
        angle=rng.uniform(0, math.pi / 3),
        scale=0.3 * size * rng.uniform(0.95, 1.05),
    )
    return NutScene(
        size=size,
        pose=pose,
        light_angle=math.radians(-135 + rng.uniform(-25, 25)),
        gain=rng.uniform(0.95, 1.05),
        gradient=rng.uniform(0, 0.05),
        background=_surface(rng, size, (70, 68, 66), 0.03),
        noise=rng.normal(0, _NOISE_STD, (size, size, 3)).astype(np.float32),
    )


def _nut_body(scene: NutScene, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    body = np.maximum(sdf_hexagon(u, v, 1.0), sdf_circle(u, v, 1.1))
    body = np.maximum(body, -sdf_circle(u, v, 0.5))
    for cu, cv, radius in scene.chips:
        body = np.maximum(body, -sdf_circle(u - cu, v - cv, radius))
    return body * scene.pose.scale


def render_nut(scene: NutScene) -> tuple[np.ndarray, np.ndarray]:
    """Render a nut scene; returns the image and the support of the nut's surface."""
    size, pose = scene.size, scene.pose
    win = full_window(size, size)
    u, v = pose.to_local(win.x, win.y)
    rho = np.sqrt(u * u + v * v)
    phi = np.arctan2(v, u) + pose.angle  # direction in the image frame, for shading
    light = scene.light_angle
    image = scene.background.copy()
    # soft shadow cast away from the light
    su, sv = u + 0.12 * math.cos(light - pose.angle), v + 0.12 * math.sin(light - pose.angle)
    shadow = np.clip(0.5 - np.maximum(sdf_hexagon(su, sv, 1.0), sdf_circle(su, sv, 1.1)) * pose.scale / 4, 0, 1)
    image *= (1 - 0.45 * shadow)[..., None]
    hole = coverage(sdf_circle(u, v, 0.5) * pose.scale)
    image *= (1 - 0.5 * hole)[..., None]
    # metal shading: flat top face, outward chamfer beyond radius 0.97, inward thread bevel near the hole
    chamfer = np.clip((rho - 0.97) * pose.scale + 0.5, 0, 1)
    bevel = np.clip((0.66 - rho) * pose.scale + 0.5, 0, 1)
    face = 0.8 + 0.06 * (u * math.cos(light - pose.angle) + v * math.sin(light - pose.angle))
    shade = face * (1 - chamfer - bevel) + chamfer * (0.6 + 0.32 * np.cos(phi - light))
    shade += bevel * (0.52 + 0.25 * np.cos(phi - light - math.pi) + 0.05 * np.sin(rho * pose.scale * 1.4))
    shade += 0.015 * np.sin(rho * pose.scale * 1.1)  # turning marks
    metal = shade[..., None] * np.asarray((205, 205, 212), dtype=np.float32)
    alpha = coverage(_nut_body(scene, u, v))
    paint(image, win, alpha, metal)
    image *= _light_field(size, light, scene.gain, scene.gradient)
    image += scene.noise
    support = coverage(_nut_body(scene, u, v) + 1.5)  # the surface, 1.5 px in from its edge
    return image, support


def chip_nut(rng: np.random.Generator, scene: NutScene, severity: float) -> NutScene:
    """Bite a piece out of the body at a random corner or edge (a missing part)."""
    corner = rng.integers(6) * math.pi / 3 + rng.uniform(-0.35, 0.35)
    radius = 0.06 + 0.3 * severity * rng.uniform(0.8, 1.2)
    # distance from the centre to the body's outline in that direction (hexagon cut by a circle)
    off_normal = (corner - math.pi / 6) % (math.pi / 3) - math.pi / 6
    outline = min(1.1, 1.0 / math.cos(off_normal))
    reach = outline + rng.uniform(-0.3, 0.5) * radius
    chip = (reach * math.cos(corner), reach * math.sin(corner), radius)
    return dataclasses.replace(scene, chips=(*scene.chips, chip))


# ----------------------------------------------------------------------------------------- pcb


@dataclass(frozen=True)
class Part:
    """A component of the board: kind, centre (units), rotation (radians)."""

    name: str
    kind: str
    u: float
    v: float
    angle: float = 0.0


#: The board's design, in units (the board spans u in [-1, 1], v in [-0.72, 0.72]); smallest first.
PCB_PARTS = (
    Part("D1", "led", 0.5, 0.08),
    Part("R1", "resistor", 0.22, 0.36),
    Part("R2", "resistor", 0.22, 0.52),
    Part("R3", "resistor", -0.78, -0.42, math.pi / 2),
    Part("C2", "capacitor", 0.2, -0.12, math.pi / 2),
    Part("C3", "capacitor", -0.72, 0.46),
    Part("C1", "elcap", 0.56, -0.36),
    Part("J1", "connector", 0.84, 0.28),
    Part("U1", "ic", -0.28, 0.02),
)
_TRACES = (
    ((-0.05, 0.12), (0.12, 0.36)),
    ((0.12, 0.36), (0.12, 0.52)),
    ((0.32, 0.36), (0.5, 0.36)),
    ((0.5, 0.36), (0.5, 0.12)),
    ((0.32, 0.52), (0.84, 0.52)),
    ((0.2, -0.22), (0.56, -0.22)),
    ((0.2, -0.02), (0.2, 0.12)),
    ((-0.78, -0.3), (-0.78, 0.2)),
    ((-0.78, 0.2), (-0.56, 0.2)),
    ((-0.64, 0.46), (-0.4, 0.46)),
    ((-0.4, 0.46), (-0.4, 0.28)),
    ((0.56, -0.5), (0.84, -0.5)),
    ((0.84, -0.5), (0.84, 0.0)),
)
_HOLES = ((-0.9, -0.62), (0.9, -0.62), (-0.9, 0.62), (0.9, 0.62))
_BOARD_HALF = (1.0, 0.72)
_GREEN = (32, 104, 58)
_COPPER = (58, 138, 76)
_SILVER = (186, 186, 180)
_SILK = (226, 228, 220)


@dataclass(frozen=True)
class PcbScene:
    """Everything random about one board image, and which parts are drawn where."""

    size: int
    pose: Pose
    light_angle: float
    gain: float
    gradient: float
    background: np.ndarray = field(repr=False)
    noise: np.ndarray = field(repr=False)
    parts: tuple[Part, ...] = PCB_PARTS


def pcb_scene(rng: np.random.Generator, size: int) -> PcbScene:
    """Draw a random pose (small shift and rotation) and lighting for the board."""
    pose = Pose(
        cx=size / 2 + rng.uniform(-0.01, 0.01) * size,
        cy=size / 2 + rng.uniform(-0.01, 0.01) * size,
        angle=math.radians(rng.uniform(-1.5, 1.5)),
        scale=0.44 * size * rng.uniform(0.99, 1.01),
    )
    return PcbScene(
        size=size,
        pose=pose,
        light_angle=rng.uniform(0, 2 * math.pi),
        gain=rng.uniform(0.96, 1.04),
        gradient=rng.uniform(0, 0.04),
        background=_surface(rng, size, (150, 150, 146), 0.025),
        noise=rng.normal(0, _NOISE_STD, (size, size, 3)).astype(np.float32),
    )


_PART_RADIUS = {"led": 0.08, "resistor": 0.12, "capacitor": 0.11, "elcap": 0.2, "connector": 0.3, "ic": 0.42}
#: Half sizes of the silkscreen outline printed around some parts.
_OUTLINES = {"ic": (0.34, 0.31), "connector": (0.11, 0.29), "elcap": (0.19, 0.19)}


def _local(pose: Pose, win, part: Part) -> tuple[np.ndarray, np.ndarray]:
    u, v = pose.to_local(win.x, win.y)
    c, s = math.cos(part.angle), math.sin(part.angle)
    du, dv = u - part.u, v - part.v
    return du * c + dv * s, -du * s + dv * c


def _draw_pads(image: np.ndarray, pose: Pose, part: Part) -> None:
    win = pose.window(part.u, part.v, _PART_RADIUS[part.kind] + 0.05, image.shape[0], image.shape[1])
    if win is None:
        return
    a, b = _local(pose, win, part)
    k = pose.scale
    if part.kind in ("resistor", "capacitor"):
        pads = np.minimum(sdf_box(a - 0.085, b, 0.04, 0.055), sdf_box(a + 0.085, b, 0.04, 0.055))
        paint(image, win, coverage(pads * k), _SILVER)
    if part.kind in _OUTLINES:
        outline = np.abs(sdf_box(a, b, *_OUTLINES[part.kind])) - 0.007
        paint(image, win, 0.8 * coverage(outline * k), _SILK)


def _draw_part(image: np.ndarray, pose: Pose, part: Part) -> None:
    win = pose.window(part.u, part.v, _PART_RADIUS[part.kind], image.shape[0], image.shape[1])
    if win is None:
        return
    a, b = _local(pose, win, part)
    k = pose.scale
    if part.kind == "ic":
        pins = None
        for x in np.linspace(-0.22, 0.22, 6):
            for y in (-0.24, 0.24):
                d = sdf_box(a - x, b - y, 0.022, 0.05)
                pins = d if pins is None else np.minimum(pins, d)
        paint(image, win, coverage(pins * k), _SILVER)
        paint(image, win, coverage(sdf_box(a, b, 0.3, 0.2, 0.01) * k), (30, 30, 34))
        paint(image, win, coverage(sdf_circle(a + 0.22, b + 0.11, 0.03) * k), (74, 74, 80))
    elif part.kind in ("resistor", "capacitor"):
        body = (38, 38, 40) if part.kind == "resistor" else (172, 132, 86)
        paint(image, win, coverage(sdf_box(a, b, 0.095, 0.045, 0.008) * k), body)
        ends = np.minimum(sdf_box(a - 0.08, b, 0.018, 0.046), sdf_box(a + 0.08, b, 0.018, 0.046))
        paint(image, win, coverage(ends * k), _SILVER)
    elif part.kind == "elcap":
        paint(image, win, coverage(sdf_circle(a, b, 0.16) * k), (42, 52, 112))
        paint(image, win, coverage(sdf_circle(a, b, 0.115) * k), (176, 178, 186))
        cross = np.minimum(sdf_box(a, b, 0.1, 0.008), sdf_box(a, b, 0.008, 0.1))
        paint(image, win, coverage(cross * k), (90, 92, 100))
    elif part.kind == "led":
        paint(image, win, coverage(sdf_box(a, b, 0.055, 0.038, 0.006) * k), (232, 230, 220))
        paint(image, win, coverage(sdf_circle(a, b, 0.024) * k), (205, 36, 32))
    elif part.kind == "connector":
        paint(image, win, coverage(sdf_box(a, b, 0.08, 0.26, 0.01) * k), (222, 216, 198))
        holes = None
        for y in np.linspace(-0.18, 0.18, 4):
            d = sdf_box(a, b - y, 0.035, 0.035)
            holes = d if holes is None else np.minimum(holes, d)
        paint(image, win, coverage(holes * k), (40, 36, 32))


def render_pcb(scene: PcbScene) -> tuple[np.ndarray, np.ndarray]:
    """Render a board scene; returns the image and the support of the board's surface."""
    size, pose = scene.size, scene.pose
    win = full_window(size, size)
    u, v = pose.to_local(win.x, win.y)
    k = pose.scale
    image = scene.background.copy()
    board = sdf_box(u, v, *_BOARD_HALF, 0.05)
    shadow = np.clip(0.5 - sdf_box(u - 0.04, v - 0.04, *_BOARD_HALF, 0.05) * k / 3, 0, 1)
    image *= (1 - 0.35 * shadow)[..., None]
    paint(image, win, coverage(board * k), _GREEN)
    traces = None
    for a, b in _TRACES:
        d = sdf_segment(u, v, a, b, 0.014)
        traces = d if traces is None else np.minimum(traces, d)
    paint(image, win, coverage(traces * k), _COPPER)
    for hu, hv in _HOLES:
        paint(image, win, coverage(sdf_circle(u - hu, v - hv, 0.07) * k), _SILVER)
        paint(image, win, coverage(sdf_circle(u - hu, v - hv, 0.04) * k), (52, 52, 50))
    for part in PCB_PARTS:
        _draw_pads(image, pose, part)
    for part in scene.parts:
        _draw_part(image, pose, part)
    image *= _light_field(size, scene.light_angle, scene.gain, scene.gradient)
    image += scene.noise
    support = coverage(board * k + 1.5)
    return image, support


def drop_part(rng: np.random.Generator, scene: PcbScene, severity: float) -> PcbScene:
    """Leave out one part (small parts for subtle severities, big ones for obvious)."""
    index = min(len(scene.parts) - 1, int(severity * len(scene.parts) + rng.uniform(-0.5, 0.5)))
    index = max(index, 0)
    return dataclasses.replace(scene, parts=tuple(p for i, p in enumerate(scene.parts) if i != index))


def move_part(rng: np.random.Generator, scene: PcbScene, severity: float) -> PcbScene:
    """Shift and/or rotate one part off its place (further for obvious severities)."""
    index = int(rng.integers(len(scene.parts)))
    part = scene.parts[index]
    mode = rng.integers(3)  # 0 shift, 1 rotate, 2 both
    shift = (0.02 + 0.12 * severity) if mode != 1 else 0.0
    turn = math.radians(4 + 30 * severity) * rng.choice((-1, 1)) if mode != 0 else 0.0
    direction = rng.uniform(0, 2 * math.pi)
    moved = dataclasses.replace(
        part,
        u=part.u + shift * math.cos(direction),
        v=part.v + shift * math.sin(direction),
        angle=part.angle + turn,
    )
    parts = tuple(moved if i == index else p for i, p in enumerate(scene.parts))
    return dataclasses.replace(scene, parts=parts)
