"""Synthetic stand-in for CIFAR-10: ten classes of shape, colour and texture with a spread of difficulty.

It is the embedded default data of the early-exit track, written in the CIFAR-10 python layout by
:func:`harness.tracks.earlyexit.cifar.write_cifar10`, so the CIFAR-10 loader is the code path that reads it.
Images are 32x32 RGB (drawn at 64x64 and averaged down), small enough that a small ViT trains on 2 CPU cores
in minutes. Classes (:data:`CLASSES`), each a shape, a hue and a surface texture:

==  ==============  ========  ======  =======
#   class           shape     colour  texture
==  ==============  ========  ======  =======
0   red_disc        disc      red     plain
1   red_square      square    red     stripes
2   blue_disc       disc      blue    stripes
3   blue_triangle   triangle  blue    plain
4   green_square    square    green   dots
5   green_triangle  triangle  green   stripes
6   yellow_ring     ring      yellow  plain
7   yellow_cross    cross     yellow  checks
8   purple_cross    cross     purple  plain
9   purple_ring     ring      purple  dots
==  ==============  ========  ======  =======

Every shape and every colour belongs to two classes, so no single cue separates them all.

Difficulty: each image draws ``d ~ Beta(1.3, 2.0)`` (mean 0.39; 40 % of the images below 0.3, 33 % above 0.5,
3.3 % above 0.85), and ``d`` sets, from easy (0) to hard (1): the object's radius (36 % to 20 % of the image side,
+-12 %), how far from the centre it may lie, its contrast against the background (opacity 1.0 to 0.45), its
saturation (0.85 to 0.3, so the colour cue fades), its hue jitter (6 to 24 degrees of standard deviation), the
strength of its texture, the number of distractors (small class-like shapes of any hue and texture, 0-1 when easy,
up to 4 when hard), the background's clutter and darkening, and the pixel noise (standard deviation 2 to 18 grey
levels). Above ``d = 0.5`` an object of a confusable class (one sharing the shape or the colour) overlaps the true
object with an opacity that grows to the true object's own at ``d = 0.85``, drawn above or below it at random:
those images are genuinely ambiguous. Nuisances at any difficulty: position, rotation, aspect (0.85 to 1.15),
background colours and noise field, a lighting gain and a linear light gradient, texture frequency, phase and
direction.

Determinism: each image is drawn from its own generator, seeded by (seed, split, index); class labels are
balanced per split and shuffled by (seed, split). The same seed gives byte-identical files. The manifest
``parbench_synth.json`` at the root records the parameters and, per split and in file order, each image's
difficulty, confuser class (-1 for none), confuser strength (its opacity over the true object's), object scale
(radius over image side), contrast, noise level and number of distractors.

License of the output: everything is drawn by this module; the generated dataset carries no restriction.

Example:
    >>> from harness.tracks.earlyexit import cifar, synth  # doctest: +SKIP
    >>> synth.generate(tmp / "synth_cifar10", **synth.PRESETS["tiny"])  # doctest: +SKIP
    >>> cifar.load_cifar10(tmp / "synth_cifar10").n_classes  # doctest: +SKIP
    10
"""

from __future__ import annotations

import colorsys
import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from harness.data.synth._draw import quantize, sdf_box, smooth_noise
from harness.data.synth._staging import manifest_matches, staged
from harness.tracks.earlyexit.cifar import IMAGE_SIDE, write_cifar10

__all__ = [
    "CLASSES",
    "DIFFICULTY_BETA",
    "MANIFEST",
    "PRESETS",
    "VERSION",
    "SynthSample",
    "generate",
    "render_sample",
    "split_labels",
]

#: Version of the generator's output; bump it whenever a byte of the output can change.
VERSION = "1"
#: (name, shape, hue in degrees, texture) of each class; label ``i`` is ``CLASSES[i]``.
CLASSES = (
    ("red_disc", "disc", 0, "plain"),
    ("red_square", "square", 0, "stripes"),
    ("blue_disc", "disc", 220, "stripes"),
    ("blue_triangle", "triangle", 220, "plain"),
    ("green_square", "square", 125, "dots"),
    ("green_triangle", "triangle", 125, "stripes"),
    ("yellow_ring", "ring", 52, "plain"),
    ("yellow_cross", "cross", 52, "checks"),
    ("purple_cross", "cross", 285, "plain"),
    ("purple_ring", "ring", 285, "dots"),
)
SHAPES = ("disc", "square", "triangle", "ring", "cross")
TEXTURES = ("plain", "stripes", "dots", "checks")
#: (a, b) of the Beta distribution of the per-image difficulty.
DIFFICULTY_BETA = (1.3, 2.0)
#: Difficulty above which a confusable object overlaps the true one ...
CONFUSER_FROM = 0.5
#: ... and from which on it is as opaque as the true object.
CONFUSER_FULL = 0.85
#: Named parameter sets: ``default`` (the embedded default data) and ``tiny`` (tests and CI smoke runs).
PRESETS = MappingProxyType({"default": {"n_train": 5000, "n_test": 1000}, "tiny": {"n_train": 100, "n_test": 50}})
#: File at the dataset root recording the parameters and each image's difficulty and nuisances.
MANIFEST = "parbench_synth.json"
#: Fields of :class:`SynthSample` recorded per image in the manifest.
_RECORDED = ("difficulty", "confuser", "confuser_strength", "scale", "contrast", "noise", "n_distractors")
_SUPERSAMPLE = 2
_SPLIT_CODES = {"train": 1, "test": 2}


@dataclass(frozen=True)
class SynthSample:
    """One generated image and what made it easy or hard.

    Attributes:
        image: uint8 array of shape (32, 32, 3).
        label: Class index in :data:`CLASSES`.
        difficulty: The drawn difficulty in [0, 1].
        confuser: Class of the overlapping confusable object, -1 for none.
        confuser_strength: Its opacity over the true object's (0 without confuser, 1 at equal strength).
        scale: Object radius over the image side.
        contrast: Opacity of the object over the background.
        noise: Standard deviation of the pixel noise, in grey levels.
        n_distractors: Number of distractor shapes.
    """

    image: np.ndarray
    label: int
    difficulty: float
    confuser: int
    confuser_strength: float
    scale: float
    contrast: float
    noise: float
    n_distractors: int


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def _rgb(hue_deg: float, saturation: float, value: float) -> np.ndarray:
    rgb = colorsys.hsv_to_rgb((hue_deg / 360.0) % 1.0, min(max(saturation, 0.0), 1.0), min(max(value, 0.0), 1.0))
    return np.asarray(rgb, dtype=np.float32) * 255.0


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance in object units (the shape spans about [-1, 1]), negative inside."""
    if shape == "disc":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "square":
        return sdf_box(u, v, 0.82, 0.82)
    if shape == "ring":
        return np.abs(np.sqrt(u * u + v * v) - 0.72) - 0.28
    if shape == "cross":
        return np.minimum(sdf_box(u, v, 1.0, 0.32), sdf_box(u, v, 0.32, 1.0))
    # triangle: three half-planes around an inradius of 0.55 (circumradius 1.1), a vertex up
    planes = [u * math.cos(a) + v * math.sin(a) for a in (math.pi / 2 + k * math.tau / 3 for k in range(3))]
    return np.maximum(np.maximum(planes[0], planes[1]), planes[2]) - 0.55


def _texture(texture: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pattern in [-1, 1] over object units; its frequency, phase and direction are drawn from ``rng``."""
    cycles = rng.uniform(1.8, 2.6)
    angle = rng.uniform(0, math.pi)
    phase = rng.uniform(0, 2 * math.pi, size=2)
    a = 2 * math.pi * cycles * (u * math.cos(angle) + v * math.sin(angle)) + phase[0]
    b = 2 * math.pi * cycles * (-u * math.sin(angle) + v * math.cos(angle)) + phase[1]
    if texture == "stripes":
        return np.tanh(3.0 * np.sin(a))
    if texture == "dots":
        return np.tanh(4.0 * (np.cos(a) * np.cos(b) - 0.35))
    if texture == "checks":
        return np.tanh(4.0 * np.sin(a) * np.sin(b))
    return np.zeros_like(u)


def _draw_object(
    canvas: np.ndarray, rng: np.random.Generator, *, shape: str, hue: float, texture: str, center: tuple[float, float],
    radius: float, opacity: float, saturation: float, texture_amp: float,
) -> None:
    """Blend one textured, shaded, rotated shape into ``canvas`` (float32 (S, S, 3), 0..255) in place."""
    side = canvas.shape[0]
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    angle = rng.uniform(0, 2 * math.pi)
    aspect = rng.uniform(0.85, 1.15)
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = xs - center[0], ys - center[1]
    u = (dx * c + dy * s) / (radius * aspect)
    v = (-dx * s + dy * c) * aspect / radius
    alpha = np.clip(0.5 - _shape_distance(shape, u, v) * radius, 0.0, 1.0) * opacity
    color = _rgb(hue, saturation, rng.uniform(0.6, 0.95))
    shade = 1.0 + 0.15 * (u * rng.uniform(-1, 1) + v * rng.uniform(-1, 1))
    pattern = 1.0 + texture_amp * _texture(texture, u, v, rng)
    paint = color[None, None, :] * (shade * pattern)[..., None]
    canvas *= 1.0 - alpha[..., None]
    canvas += alpha[..., None] * paint


def _background(rng: np.random.Generator, side: int, difficulty: float) -> np.ndarray:
    """Two random colours mixed by a smooth field, with noise texture: float32 (S, S, 3)."""
    first = _rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.5), rng.uniform(0.3, 0.8))
    second = _rgb(rng.uniform(0, 360), rng.uniform(0.05, 0.5), rng.uniform(0.3, 0.8))
    mix = 1.0 / (1.0 + np.exp(-2.5 * smooth_noise(rng, side, side, int(rng.integers(2, 5)))))
    grain = 1.0 + (0.08 + 0.22 * difficulty) * smooth_noise(rng, side, side, int(rng.integers(6, 14)))
    return (first * (1 - mix[..., None]) + second * mix[..., None]) * grain[..., None]


def _confuser(label: int, rng: np.random.Generator) -> int:
    """A class sharing the shape or the hue of ``label`` (chosen uniformly among them)."""
    _, shape, hue, _ = CLASSES[label]
    near = [k for k, (_, s, h, _) in enumerate(CLASSES) if k != label and (s == shape or h == hue)]
    return int(near[int(rng.integers(len(near)))])


def render_sample(label: int, *, index: int, seed: int, split: str = "train") -> SynthSample:
    """Draw one image of class ``label``, deterministically from (seed, split, index).

    Example:
        >>> render_sample(3, index=0, seed=0).image.shape
        (32, 32, 3)
    """
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    side = IMAGE_SIDE * _SUPERSAMPLE
    d = float(rng.beta(*DIFFICULTY_BETA))
    canvas = _background(rng, side, d)
    n_distractors = int(rng.integers(0, 2) + round(3 * d * rng.random()))
    for _ in range(n_distractors):
        name, _, hue, _ = CLASSES[int(rng.integers(len(CLASSES)))]
        r = side * rng.uniform(0.08, 0.16)
        _draw_object(
            canvas, rng, shape=SHAPES[int(rng.integers(len(SHAPES)))], hue=hue + rng.normal(0, 20),
            texture=TEXTURES[int(rng.integers(len(TEXTURES)))], center=tuple(rng.uniform(r, side - r, size=2)),
            radius=r, opacity=rng.uniform(0.5, 0.9), saturation=rng.uniform(0.2, 0.8), texture_amp=0.3,
        )
    radius = side * _lerp(0.36, 0.20, d) * rng.uniform(0.88, 1.12)
    spread = (side / 2 - radius - 1) * _lerp(0.3, 1.0, d)
    center = (side / 2 + rng.uniform(-1, 1) * spread, side / 2 + rng.uniform(-1, 1) * spread)
    contrast = _lerp(1.0, 0.45, d)
    saturation = _lerp(0.85, 0.3, d) * rng.uniform(0.9, 1.1)
    texture_amp = _lerp(0.45, 0.2, d)
    strength = min(max((d - CONFUSER_FROM) / (CONFUSER_FULL - CONFUSER_FROM), 0.0), 1.0)
    confuser = _confuser(label, rng) if strength > 0 else -1
    objects = [(label, contrast)]
    if confuser >= 0:
        objects.append((confuser, contrast * strength))
        if rng.random() < 0.5:
            objects.reverse()
    for k, opacity in objects:
        _, shape, hue, texture = CLASSES[k]
        offset = rng.uniform(-0.6, 0.6, size=2) * radius if k != label else np.zeros(2)
        _draw_object(
            canvas, rng, shape=shape, hue=hue + rng.normal(0, _lerp(6, 24, d)), texture=texture,
            center=(float(center[0] + offset[0]), float(center[1] + offset[1])), radius=radius, opacity=opacity,
            saturation=saturation, texture_amp=texture_amp,
        )
    theta = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side - 0.5
    light = rng.uniform(0.75, 1.2) * (1 - 0.3 * d * rng.random()) * (
        1 + rng.uniform(0, 0.35) * 2 * (xs * math.cos(theta) + ys * math.sin(theta)))
    canvas *= light[..., None]
    small = canvas.reshape(IMAGE_SIDE, _SUPERSAMPLE, IMAGE_SIDE, _SUPERSAMPLE, 3).mean(axis=(1, 3))
    noise = _lerp(2.0, 18.0, d)
    image = quantize(small + rng.normal(0, noise, size=small.shape))
    return SynthSample(
        image=image, label=int(label), difficulty=d, confuser=confuser,
        confuser_strength=strength if confuser >= 0 else 0.0, scale=radius / side, contrast=contrast, noise=noise,
        n_distractors=n_distractors,
    )


def _rounded(value: float | int) -> float | int:
    return round(value, 4) if isinstance(value, float) else value


def split_labels(n_images: int, *, seed: int, split: str) -> np.ndarray:
    """Balanced labels of one split in their shuffled file order: int64 array of shape (n_images,)."""
    labels = np.arange(n_images, dtype=np.int64) % len(CLASSES)
    return np.random.default_rng([seed, _SPLIT_CODES[split]]).permutation(labels)


def _check_params(n_train: int, n_test: int) -> None:
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or int(value) != value or value < len(CLASSES):
            msg = f"{name} of generate must be an int >= {len(CLASSES)} (one image per class at least); got {value!r}."
            raise ValueError(msg)


def generate(
    root: str | Path, *, seed: int = 0, n_train: int = 5000, n_test: int = 1000, overwrite: bool = False
) -> None:
    """Write the dataset into ``root`` in the CIFAR-10 python layout, atomically.

    Files are written to a hidden sibling folder renamed to ``root`` at the end. With the defaults (5,000
    training and 1,000 test images) it takes about 10 s on one core.

    Args:
        root: Folder to create; it must not exist, or be empty (see ``overwrite``).
        seed: Seed of every random choice.
        n_train: Training images (balanced over the 10 classes, then shuffled), in five batch files.
        n_test: Test images, in ``test_batch``.
        overwrite: Replace an existing non-empty ``root``. Without it, a ``root`` that holds this very dataset
            (same parameters in its manifest) is kept as is, and any other raises.

    Raises:
        ValueError: ``n_train`` or ``n_test`` is below 10.
        FileExistsError: ``root`` holds something else and ``overwrite`` is False.
    """
    _check_params(n_train, n_test)
    params = {
        "generator": __name__, "version": VERSION, "seed": int(seed), "n_train": int(n_train), "n_test": int(n_test),
    }
    root = Path(root).expanduser().absolute()
    if root.exists() and any(root.iterdir()) and not overwrite:
        if manifest_matches(root, MANIFEST, params):
            return
        msg = f"root {root} of generate must be empty or missing; it holds other files. Pass overwrite=True."
        raise FileExistsError(msg)
    splits, records = {}, {}
    for split, n_images in (("train", n_train), ("test", n_test)):
        labels = split_labels(n_images, seed=seed, split=split)
        samples = [render_sample(int(k), index=i, seed=seed, split=split) for i, k in enumerate(labels)]
        splits[split] = (np.stack([s.image for s in samples]), labels)
        records[split] = {key: [_rounded(getattr(s, key)) for s in samples] for key in _RECORDED}
    names = tuple(c[0] for c in CLASSES)
    with staged(root, overwrite=overwrite, same=lambda other: manifest_matches(other, MANIFEST, params)) as staging:
        write_cifar10(staging, splits["train"], splits["test"], label_names=names)
        manifest = {"parameters": params, "images": records}
        (staging / MANIFEST).write_text(json.dumps(manifest, sort_keys=True) + "\n")

