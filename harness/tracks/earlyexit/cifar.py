"""CIFAR-10 and CIFAR-100 in their official python pickle layout: loaders and a writer of the same files.

CIFAR-10 holds 60,000 colour images of 32x32 pixels in 10 classes (50,000 for training in five batches of
10,000, 10,000 for testing); CIFAR-100 the same number of images in 100 fine classes (grouped into 20 coarse
ones), in one training and one test file. The embedded defaults of the early-exit track
(:mod:`harness.tracks.earlyexit.synth`, :mod:`harness.tracks.earlyexit.sklearn_digits`) are written in the
CIFAR-10 layout by :func:`write_cifar10`, so :func:`load_cifar10` reads both them and the real files.

Layouts (``<root>``, or the folder the official archive extracts to inside it)::

    cifar-10-batches-py/   data_batch_1 ... data_batch_5, test_batch    keys data, labels (and batch_label,
                           batches.meta                                 filenames); label_names
    cifar-100-python/      train, test                                  keys data, fine_labels (and
                           meta                                         coarse_labels, filenames);
                                                                        fine_label_names

Each batch file is a pickle of a dict whose ``data`` is a uint8 array of shape (n_images, 3072): per row the
1024 red values of the 32x32 image in row-major order, then the green, then the blue ones. Files are read with
an allow-list unpickler (:mod:`harness.tracks.earlyexit._pickle`) that builds numpy arrays and plain
containers only; a file referencing anything else is refused. Batches of any size load (the synthetic
defaults are smaller than the official 10,000).

Reference:
    Krizhevsky. "Learning Multiple Layers of Features from Tiny Images." Technical report, University of
    Toronto, 2009. https://www.cs.toronto.edu/~kriz/cifar.html

License:
    No licence is stated by the authors; the images were collected from the web (80 Million Tiny Images) and
    are distributed for research use.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.earlyexit._cifar_layout import (
    CIFAR10,
    CIFAR100,
    IMAGE_SIDE,
    ROW_LENGTH,
    SOURCE,
    Layout,
    write_cifar10,
    write_cifar100,
)
from harness.tracks.earlyexit._index import INDEX_COLUMNS, ImageClassIndex
from harness.tracks.earlyexit._pickle import read_pickle

__all__ = [
    "IMAGE_SIDE",
    "ROW_LENGTH",
    "SUBSETS",
    "list_subsets_cifar10",
    "list_subsets_cifar100",
    "load_cifar10",
    "load_cifar100",
    "write_cifar10",
    "write_cifar100",
]

#: The one subset: the whole dataset.
SUBSETS = ("all",)
#: Errors a truncated, corrupt or foreign pickle raises while loading.
_READ_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError)


def _dataset_dir(root: Path, layout: Layout) -> Path | None:
    for folder in (root, root / layout.folder):
        if (folder / layout.meta_file).is_file():
            return folder
    return None


def _list(root: str | Path, layout: Layout) -> list[str]:
    try:
        return list(SUBSETS) if _dataset_dir(Path(root).expanduser(), layout) is not None else []
    except OSError:
        return []


def list_subsets_cifar10(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` or ``root/cifar-10-batches-py`` holds ``batches.meta``, else ``[]``.

    Example:
        >>> list_subsets_cifar10("/nonexistent")
        []
    """
    return _list(root, CIFAR10)


def list_subsets_cifar100(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` or ``root/cifar-100-python`` holds ``meta``, else ``[]``.

    Example:
        >>> list_subsets_cifar100("/nonexistent")
        []
    """
    return _list(root, CIFAR100)


def _fetch_hint(layout: Layout) -> str:
    return f"Download {layout.archive} from {SOURCE} and extract it so that {layout.placement} exists."


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _read(folder: Path, name: str, layout: Layout, where: str) -> dict[str, Any]:
    """Unpickle one file into a dict with str keys; every failure names the file."""
    path = folder / name
    if not path.is_file():
        files = ", ".join((*layout.train_files, *layout.test_files, layout.meta_file))
        msg = f"{where}: file {name} is missing; the dataset needs {files}. {_fetch_hint(layout)}"
        raise DataMissingError(msg)
    try:
        entry = read_pickle(path)
    except (OSError, *_READ_ERRORS) as exc:
        msg = (
            f"{where}: file {name} cannot be read as a CIFAR pickle ({type(exc).__name__}: {_one_line(exc)}); it is "
            "truncated, "
            f"corrupt or not from {layout.archive}. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg) from exc
    if not isinstance(entry, dict):
        msg = f"{where}: file {name} must hold a dict; got {type(entry).__name__}. {_fetch_hint(layout)}"
        raise DataLayoutError(msg)
    return {key.decode("latin1") if isinstance(key, bytes) else str(key): value for key, value in entry.items()}


def _key(entry: dict[str, Any], key: str, name: str, layout: Layout, where: str) -> Any:
    if key not in entry:
        msg = (
            f"{where}: file {name} has no key '{key}' (keys: {', '.join(sorted(entry)) or 'none'}); it is not a "
            f"{layout.title} file. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    return entry[key]


def _class_names(folder: Path, layout: Layout, where: str) -> tuple[str, ...]:
    names = _key(_read(folder, layout.meta_file, layout, where), layout.names_key, layout.meta_file, layout, where)
    decoded = None
    if isinstance(names, (list, tuple)):
        decoded = [n.decode("utf-8", "replace") if isinstance(n, bytes) else n for n in names]
    if not decoded or not all(isinstance(n, str) and n for n in decoded) or len(set(decoded)) != len(decoded):
        msg = (
            f"{where}: '{layout.names_key}' of {layout.meta_file} must be a list of distinct, non-empty class names; "
            f"got {names!r:.200}. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    return tuple(decoded)


def _batch(folder: Path, name: str, layout: Layout, n_classes: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (n, 32, 32, 3), labels int64 (n,)) of one batch file, after checking shape and range."""
    entry = _read(folder, name, layout, where)
    data = _key(entry, "data", name, layout, where)
    labels = _key(entry, layout.labels_key, name, layout, where)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != ROW_LENGTH:
        got = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        msg = (
            f"{where}: 'data' of file {name} must be a uint8 array of shape (n_images, {ROW_LENGTH}) (32x32 RGB, "
            f"one colour plane after the other); got {got}. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    values = np.asarray(labels) if isinstance(labels, (list, tuple, np.ndarray)) else None
    if values is None or values.ndim != 1 or (values.size and values.dtype.kind not in "iu"):
        msg = (
            f"{where}: '{layout.labels_key}' of file {name} must be a list of integer labels; got "
            f"{type(labels).__name__} {values.dtype if values is not None else ''}. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    if len(values) != len(data):
        msg = (
            f"{where}: file {name} holds {len(data)} images in 'data' but {len(values)} labels in "
            f"'{layout.labels_key}'; each image needs one label. {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    bad = np.flatnonzero((values < 0) | (values >= n_classes))
    if bad.size:
        msg = (
            f"{where}: label {int(values[bad[0]])} at row {int(bad[0])} of file {name} is out of range: "
            f"{layout.meta_file} names {n_classes} classes, so labels must lie in [0, {n_classes - 1}] "
            f"({bad.size} labels out of range). {_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    pixels = data.reshape(-1, 3, IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 3, 1)
    return pixels, values.astype(np.int64)


def _load(root: str | Path, subset: str, layout: Layout) -> ImageClassIndex:
    if subset not in SUBSETS:
        msg = f"subset of {layout.title} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        msg = f"{layout.title} folder {base} does not exist. {_fetch_hint(layout)} Then pass it as --data-root."
        raise DataMissingError(msg)
    folder = _dataset_dir(base, layout)
    if folder is None:
        msg = (
            f"{layout.title} at {base}: {layout.meta_file} is in neither {base} nor {base / layout.folder}. "
            f"{_fetch_hint(layout)}"
        )
        raise DataMissingError(msg)
    where = f"{layout.title} at {folder}"
    class_names = _class_names(folder, layout, where)
    parts, frames = [], []
    for split, files in (("train", layout.train_files), ("test", layout.test_files)):
        for name in files:
            pixels, labels = _batch(folder, name, layout, len(class_names), where)
            parts.append(pixels)
            frames.append(pd.DataFrame({
                "split": split, "label": labels, "source": [f"{name}#{i}" for i in range(len(labels))],
            }))
    images = pd.concat(frames, ignore_index=True)
    train = images["label"].to_numpy()[images["split"].to_numpy() == "train"]
    missing = np.setdiff1d(np.arange(len(class_names)), train)
    if missing.size:
        first = int(missing[0])
        msg = (
            f"{where}: class {first} ({class_names[first]}) of {layout.meta_file} has no training image in "
            f"{', '.join(layout.train_files)} ({missing.size} classes empty); every class needs training images. "
            f"{_fetch_hint(layout)}"
        )
        raise DataLayoutError(msg)
    images.insert(0, "image_id", np.arange(len(images), dtype=np.int64))
    return ImageClassIndex(class_names, images[list(INDEX_COLUMNS)], np.concatenate(parts))


def load_cifar10(root: str | Path, subset: str = "all") -> ImageClassIndex:
    """Index CIFAR-10 (or a file-for-file copy written by :func:`write_cifar10`) after checking every file.

    Args:
        root: The folder holding ``batches.meta``, or its parent holding ``cifar-10-batches-py/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index with its pixels: training rows from ``data_batch_1`` to ``data_batch_5``, then the rows of
        ``test_batch``, each in file order; ``source`` is ``"<file>#<row>"``.

    Raises:
        DataMissingError: ``root`` or one of the seven files is not on disk; says where to get the archive.
        DataLayoutError: A file cannot be unpickled or references a global other than numpy's array
            reconstructors; a key is missing; ``data`` is not uint8 of shape (n, 3072); the label count differs
            from the image count; a label is outside ``[0, len(label_names))``; a class has no training image.
            The message names the file.

    Example:
        >>> index = load_cifar10("/data/cifar10")  # doctest: +SKIP
        >>> index.pixels.shape, index.n_classes  # doctest: +SKIP
        ((60000, 32, 32, 3), 10)
    """
    return _load(root, subset, CIFAR10)


def load_cifar100(root: str | Path, subset: str = "all") -> ImageClassIndex:
    """Index CIFAR-100 with its 100 fine labels after checking every file (see :func:`load_cifar10`).

    Args:
        root: The folder holding ``meta``, or its parent holding ``cifar-100-python/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index with its pixels: the rows of ``train``, then of ``test``; labels are ``fine_labels`` and
        class names ``fine_label_names`` (coarse labels are not read).

    Raises:
        DataMissingError: ``root``, ``train``, ``test`` or ``meta`` is not on disk.
        DataLayoutError: As :func:`load_cifar10`; the message names the file.

    Example:
        >>> load_cifar100("/data/cifar100").n_classes  # doctest: +SKIP
        100
    """
    return _load(root, subset, CIFAR100)
