"""scikit-learn's handwritten digits, upscaled to 32x32 RGB and written in the CIFAR-10 layout.

The real images of the UCI "Optical Recognition of Handwritten Digits" test set that ship inside scikit-learn
(``sklearn.datasets.load_digits``: 1,797 images of 8x8 pixels, 16 grey levels, 10 classes): no download. Each
image is scaled from 0..16 to 0..255, upscaled to 32x32 with bilinear interpolation (Pillow) and repeated over
the three colour channels, then written by :func:`harness.tracks.earlyexit.cifar.write_cifar10` so that the
CIFAR-10 loader reads it.

Split: a fixed stratified split drawn from ``seed``: of each class, ``round(test_fraction * n_class)`` images
(chosen by a permutation of ``numpy.random.default_rng([seed, class])``) are test images and the rest
training images; both splits keep the order of ``load_digits``. The manifest ``parbench_synth.json`` at the root
records the parameters and, per split, the row of ``load_digits`` each image comes from.

Reference:
    Alpaydin, Kaynak. "Optical Recognition of Handwritten Digits." UCI Machine Learning Repository, 1998.
    https://doi.org/10.24432/C50P49

License:
    CC BY 4.0 (UCI Machine Learning Repository).

Example:
    >>> from harness.tracks.earlyexit import cifar, sklearn_digits  # doctest: +SKIP
    >>> sklearn_digits.generate(tmp / "sklearn_digits")  # doctest: +SKIP
    >>> cifar.load_cifar10(tmp / "sklearn_digits").images.groupby("split").size().to_dict()  # doctest: +SKIP
    {'test': 359, 'train': 1438}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from harness.data.synth._staging import manifest_matches, staged
from harness.tracks.earlyexit.cifar import IMAGE_SIDE, write_cifar10

__all__ = ["CLASS_NAMES", "MANIFEST", "VERSION", "generate", "split_rows", "upscale"]

#: Version of the generator's output; bump it whenever a byte of the output can change.
VERSION = "1"
#: File at the dataset root recording the parameters and the source row of every image.
MANIFEST = "parbench_synth.json"
CLASS_NAMES = tuple(str(d) for d in range(10))


def upscale(images: np.ndarray, *, side: int = IMAGE_SIDE) -> np.ndarray:
    """Digits of 0..16 grey levels to RGB images.

    Args:
        images: float array of shape (n_images, 8, 8) with values in [0, 16].
        side: Side of the output in pixels.

    Returns:
        uint8 array of shape (n_images, side, side, 3); the three channels are equal.

    Example:
        >>> upscale(np.full((1, 8, 8), 16.0)).shape
        (1, 32, 32, 3)
    """
    out = np.empty((len(images), side, side, 3), dtype=np.uint8)
    for i, image in enumerate(np.asarray(images, dtype=np.float32)):
        grey = Image.fromarray(image * (255.0 / 16.0)).resize((side, side), Image.Resampling.BILINEAR)
        out[i] = np.clip(np.rint(np.asarray(grey)), 0, 255).astype(np.uint8)[..., None]
    return out


def split_rows(labels: np.ndarray, *, seed: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The fixed stratified split: (training rows, test rows), each int64 sorted ascending.

    Args:
        labels: int array of shape (n_images,).
        seed: Seed of the per-class permutations.
        test_fraction: Share of each class that goes to test, in (0, 1).

    Example:
        >>> train, test = split_rows(np.array([0, 0, 0, 0, 1, 1, 1, 1]), seed=0, test_fraction=0.25)
        >>> len(train), len(test)
        (6, 2)
    """
    test = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        order = np.random.default_rng([seed, int(label)]).permutation(len(rows))
        test.extend(rows[order[: round(test_fraction * len(rows))]])
    test_rows = np.sort(np.asarray(test, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), test_rows).astype(np.int64), test_rows


def generate(root: str | Path, *, seed: int = 0, test_fraction: float = 0.2, overwrite: bool = False) -> None:
    """Write the upscaled digits into ``root`` in the CIFAR-10 layout, atomically.

    Args:
        root: Folder to create; it must not exist, or be empty (see ``overwrite``).
        seed: Seed of the split.
        test_fraction: Share of each class in the test split, in (0, 1).
        overwrite: Replace an existing non-empty ``root``. Without it, a ``root`` that holds this very dataset
            (same parameters in its manifest) is kept as is, and any other raises.

    Raises:
        ValueError: ``test_fraction`` is not in (0, 1).
        FileExistsError: ``root`` holds something else and ``overwrite`` is False.
    """
    from sklearn.datasets import load_digits

    if not 0.0 < test_fraction < 1.0:
        msg = f"test_fraction of generate must be in (0, 1); got {test_fraction!r}."
        raise ValueError(msg)
    params = {"generator": __name__, "version": VERSION, "seed": int(seed), "test_fraction": float(test_fraction)}
    root = Path(root).expanduser().absolute()
    if root.exists() and any(root.iterdir()) and not overwrite:
        if manifest_matches(root, MANIFEST, params):
            return
        msg = f"root {root} of generate must be empty or missing; it holds other files. Pass overwrite=True."
        raise FileExistsError(msg)
    digits = load_digits()
    labels = digits.target.astype(np.int64)
    train, test = split_rows(labels, seed=seed, test_fraction=test_fraction)
    pixels = upscale(digits.images)
    with staged(root, overwrite=overwrite, same=lambda other: manifest_matches(other, MANIFEST, params)) as staging:
        write_cifar10(
            staging,
            (pixels[train], labels[train]),
            (pixels[test], labels[test]),
            label_names=CLASS_NAMES,
            filenames=tuple([f"digit_{r:04d}.png" for r in rows] for rows in (train, test)),
        )
        manifest = {"parameters": params, "source_rows": {"train": train.tolist(), "test": test.tolist()}}
        (staging / MANIFEST).write_text(json.dumps(manifest, sort_keys=True) + "\n")
