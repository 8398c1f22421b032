"""Synthetic objects with attributes: the captions the tiny CLIP is pre-trained on, and the default classification set.

Every image shows one object described by five attributes: a shape (:data:`SHAPES`), a colour (:data:`COLOURS`), a
surface texture (:data:`TEXTURES`), a size (:data:`SIZES`) and a background (:data:`BACKGROUNDS`), with nuisances
(position, rotation, hue jitter, a light gradient, pixel noise). A caption names the colour and the shape always
and the other attributes with probability one half each, e.g. ``"a photo of a large red striped disc on a dark
background."``.

The default classification set (``SynthObjects``) has twelve classes, each a colour and a shape (:data:`CLASSES`);
the first six are the base classes, the last six the novel ones (the track's base-to-novel split takes the first half
of the labels as base, as CoCoOp does). The novel combinations never occur among the pre-training images
(:func:`pretraining_pairs`): the pre-trained model has seen each of their words with other words only, so
recognising them takes composition, and base-to-novel generalisation is a real question.

The set is written in CoOp's layout (``images/<class folder>/<split>_<n>.png`` and ``split_zhou_SynthObjects.json``)
and read by :func:`harness.tracks.prompt.loaders.load_synth`. Determinism: each image is drawn from its own
generator seeded by (seed, split, index); pre-training images use another split code, so they are disjoint from
the classification images. The same seed gives byte-identical files.

License of the output: everything is drawn by this module; the generated dataset carries no restriction.

Example:
    >>> from harness.tracks.prompt import synth  # doctest: +SKIP
    >>> synth.generate(tmp / "synth_prompt", **synth.PRESETS["tiny"])  # doctest: +SKIP
"""

from __future__ import annotations

import colorsys
import json
from pathlib import Path
from types import MappingProxyType

import numpy as np
from PIL import Image

from harness.data.synth._staging import manifest_matches, staged
from harness.tracks.prompt.coop_layout import write_split

__all__ = [
    "BACKGROUNDS",
    "CLASSES",
    "COLOURS",
    "MANIFEST",
    "NOVEL_COMBOS",
    "PRESETS",
    "SHAPES",
    "SIZES",
    "TEXTURES",
    "VERSION",
    "caption",
    "generate",
    "pretraining_pairs",
    "render",
]

#: Version of the generator's output; bump it whenever a byte of the output can change.
VERSION = "1"
SHAPES = ("disc", "square", "triangle", "ring", "cross")
#: colour -> hue in degrees.
COLOURS = MappingProxyType({"red": 0, "orange": 30, "yellow": 55, "green": 125, "blue": 220, "purple": 285})
TEXTURES = ("plain", "striped", "dotted")
SIZES = ("small", "large")
BACKGROUNDS = ("dark", "light")
#: (colour, shape) of each class of the default set; the first half are base classes, the second half novel. Inside
#: each half every colour and every shape is shared by two classes, so no single word separates them.
CLASSES = (
    ("red", "disc"), ("red", "square"), ("blue", "square"), ("blue", "triangle"), ("green", "triangle"),
    ("green", "disc"),
    ("red", "triangle"), ("blue", "disc"), ("green", "square"), ("yellow", "disc"), ("yellow", "square"),
    ("yellow", "triangle"),
)
#: The combinations the pre-training images never show (the novel classes).
NOVEL_COMBOS = CLASSES[len(CLASSES) // 2:]
#: Named parameter sets: ``default`` (the embedded default data) and ``tiny`` (tests).
PRESETS = MappingProxyType({
    "default": {"n_train_per_class": 24, "n_val_per_class": 4, "n_test_per_class": 40},
    "tiny": {"n_train_per_class": 4, "n_val_per_class": 1, "n_test_per_class": 3},
})
#: File at the dataset root recording the generator's parameters.
MANIFEST = "parbench_synth.json"
_SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "pretrain": 9}
_SUPERSAMPLE = 2


def caption(colour: str, shape: str, *, texture: str = "", size: str = "", background: str = "") -> str:
    """The caption of an object: ``"a photo of a [size] <colour> [texture] <shape>[ on a <background> background]."``.

    Example:
        >>> caption("red", "disc", size="large", background="dark")
        'a photo of a large red disc on a dark background.'
    """
    words = [w for w in (size, colour, texture, shape) if w]
    tail = f" on a {background} background" if background else ""
    return f"a photo of a {' '.join(words)}{tail}."


def _rgb(hue_deg: float, saturation: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360) / 360, saturation, value), dtype=np.float32)


def _shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of ``shape`` of unit radius in rotated coordinates ``u``, ``v``."""
    r = np.hypot(u, v)
    if shape == "disc":
        return r < 1.0
    if shape == "ring":
        return (r < 1.0) & (r > 0.55)
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) < 0.8
    if shape == "triangle":
        edges = [v * np.cos(a) + u * np.sin(a) for a in (0.0, 2 * np.pi / 3, 4 * np.pi / 3)]
        return np.max(np.stack(edges), axis=0) < 0.5
    arm = 0.32
    return ((np.abs(u) < arm) & (np.abs(v) < 1.0)) | ((np.abs(v) < arm) & (np.abs(u) < 1.0))


def render(attributes: dict[str, str], side: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one object.

    Args:
        attributes: ``shape``, ``colour``, ``texture``, ``size`` and ``background``.
        side: Side of the square output, in pixels.
        rng: Generator of the nuisances.

    Returns:
        uint8 array of shape (side, side, 3), RGB.
    """
    big = side * _SUPERSAMPLE
    ys, xs = np.mgrid[0:big, 0:big].astype(np.float32) / big - 0.5
    dark = attributes["background"] == "dark"
    bg_hue = rng.uniform(0, 360)
    top = _rgb(bg_hue, rng.uniform(0.05, 0.25), rng.uniform(0.12, 0.3) if dark else rng.uniform(0.7, 0.88))
    bottom = top * rng.uniform(0.75, 1.25)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys + 0.5)[..., None]
    image = top * (1 - ramp) + bottom * ramp
    radius = rng.uniform(0.17, 0.22) if attributes["size"] == "small" else rng.uniform(0.3, 0.36)
    centre = rng.uniform(-(0.48 - radius), 0.48 - radius, size=2)
    theta = rng.uniform(0, 2 * np.pi)
    dx, dy = (xs - centre[0]) / radius, (ys - centre[1]) / radius
    u, v = np.cos(theta) * dx + np.sin(theta) * dy, -np.sin(theta) * dx + np.cos(theta) * dy
    mask = _shape_mask(attributes["shape"], u, v)
    colour = _rgb(COLOURS[attributes["colour"]] + rng.normal(0, 6), rng.uniform(0.7, 0.95), rng.uniform(0.75, 0.95))
    shade = np.ones_like(xs)
    texture = attributes["texture"]
    if texture == "striped":
        shade = 0.65 + 0.35 * (np.sin(u * rng.uniform(7, 9) + rng.uniform(0, 6.3)) > 0)
    elif texture == "dotted":
        period = rng.uniform(0.45, 0.55)
        du, dv = (u % period) - period / 2, (v % period) - period / 2
        shade = np.where(np.hypot(du, dv) < period * 0.28, 0.45, 1.0)
    image = np.where(mask[..., None], colour * shade[..., None], image)
    image = image.reshape(side, _SUPERSAMPLE, side, _SUPERSAMPLE, 3).mean(axis=(1, 3))
    image = image * 255 + rng.normal(0, 6, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _attributes(colour: str, shape: str, rng: np.random.Generator) -> dict[str, str]:
    return {
        "colour": colour, "shape": shape, "texture": TEXTURES[rng.integers(len(TEXTURES))],
        "size": SIZES[rng.integers(len(SIZES))], "background": BACKGROUNDS[rng.integers(len(BACKGROUNDS))],
    }


def pretraining_pairs(n_pairs: int, *, seed: int = 0, side: int = 32) -> tuple[np.ndarray, list[str]]:
    """Image-caption pairs of every colour and shape combination except :data:`NOVEL_COMBOS`.

    Args:
        n_pairs: Pairs to draw.
        seed: Seed of the draw (each pair has its own generator seeded by (seed, pair)).
        side: Image side, in pixels.

    Returns:
        (images, captions): uint8 array of shape (n_pairs, side, side, 3) and the caption of each image.
    """
    combos = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in NOVEL_COMBOS]
    images = np.empty((n_pairs, side, side, 3), dtype=np.uint8)
    captions = []
    for i in range(n_pairs):
        rng = np.random.default_rng([seed, _SPLIT_CODES["pretrain"], i])
        colour, shape = combos[rng.integers(len(combos))]
        attrs = _attributes(colour, shape, rng)
        images[i] = render(attrs, side, rng)
        keep = rng.random(3) < 0.5
        captions.append(caption(colour, shape, texture=attrs["texture"] if keep[0] else "",
                                size=attrs["size"] if keep[1] else "",
                                background=attrs["background"] if keep[2] else ""))
    return images, captions


def class_name(index: int) -> str:
    """Name of class ``index`` of the default set (``"red disc"``)."""
    colour, shape = CLASSES[index]
    return f"{colour} {shape}"


def generate(
    root: str | Path, *, seed: int = 0, n_train_per_class: int = 24, n_val_per_class: int = 4,
    n_test_per_class: int = 40, image_side: int = 64, overwrite: bool = False,
) -> Path:
    """Write the default classification set in CoOp's layout into ``root``.

    Args:
        root: The dataset folder to create.
        seed: Seed of every image.
        n_train_per_class: Training images per class (the pool the shots are drawn from).
        n_val_per_class: Validation images per class.
        n_test_per_class: Test images per class.
        image_side: Side of the written PNG images, in pixels (the track resizes them to its budget's size).
        overwrite: Replace an existing dataset at ``root``.

    Returns:
        ``root``.
    """
    params = {"seed": seed, "n_train_per_class": n_train_per_class, "n_val_per_class": n_val_per_class,
              "n_test_per_class": n_test_per_class, "image_side": image_side, "version": VERSION}
    root = Path(root)
    if manifest_matches(root, MANIFEST, params) and not overwrite:
        return root
    counts = {"train": n_train_per_class, "val": n_val_per_class, "test": n_test_per_class}
    with staged(root, overwrite=overwrite, same=lambda p: manifest_matches(p, MANIFEST, params)) as folder:
        splits: dict[str, list[tuple[str, int, str]]] = {}
        for split, per_class in counts.items():
            order = np.random.default_rng([seed, _SPLIT_CODES[split]]).permutation(per_class * len(CLASSES))
            triples = []
            for i, slot in enumerate(order):
                label = int(slot % len(CLASSES))
                rng = np.random.default_rng([seed, _SPLIT_CODES[split], i])
                colour, shape = CLASSES[label]
                folder_name = f"{colour}_{shape}"
                rel = f"{folder_name}/{split}_{i:05d}.png"
                (folder / "images" / folder_name).mkdir(parents=True, exist_ok=True)
                Image.fromarray(render(_attributes(colour, shape, rng), image_side, rng)).save(
                    folder / "images" / rel, optimize=False)
                triples.append((rel, label, class_name(label)))
            splits[split] = sorted(triples)
        write_split(folder / "split_zhou_SynthObjects.json", splits)
        (folder / MANIFEST).write_text(json.dumps({"parameters": params}, indent=1) + "\n")
    return root
