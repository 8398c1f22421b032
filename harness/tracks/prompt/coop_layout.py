"""Datasets in the layout of CoOp (Zhou et al.): image folders with a ``split_zhou_<Name>.json`` beside them.

CoOp, CoCoOp and MaPLe read each dataset from its folder under the data root through a split file that lists the
training, validation and test images::

    <root>/eurosat/2750/<Class>/<image>.jpg            (EuroSAT: the images of the EuroSAT RGB archive)
    <root>/eurosat/split_zhou_EuroSAT.json
    <root>/oxford_pets/images/<image>.jpg              (Oxford-IIIT Pets)
    <root>/oxford_pets/split_zhou_OxfordPets.json

The split file is a JSON object with the keys ``train``, ``val`` and ``test``; each holds a list of
``[relative image path, label, class name]`` triples, the path relative to the image folder (``2750/`` or
``images/``). Labels run over ``0 .. n_classes - 1``; the class names are those of the split file (CoOp's
readable names, e.g. ``Annual Crop Land`` for EuroSAT's ``AnnualCrop``). This module reads that layout into a
:class:`CoopIndex` (:func:`load_index`), checks every pairing of label and class name, and writes it
(:func:`write_split`), so the synthetic default data goes through the same reader.

Reference: Zhou, Yang, Loy, Liu. "Learning to Prompt for Vision-Language Models." IJCV 2022 (arXiv 2109.01134);
the split files are those published with https://github.com/KaiyangZhou/CoOp (DATASETS.md).

License: the split files of CoOp are MIT; the images keep the licence of their dataset (EuroSAT: MIT; Oxford-IIIT
Pets: CC BY-SA 4.0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data import DataLayoutError, DataMissingError, read_images

__all__ = ["LAYOUTS", "SPLITS", "CoopIndex", "CoopLayout", "load_index", "read_split_file", "write_split"]

#: The keys of a split file.
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class CoopLayout:
    """Where a dataset's images and split file lie inside its folder.

    Attributes:
        name: The dataset's name in CoOp (``EuroSAT``); the split file is ``split_zhou_<name>.json``.
        image_dir: Folder of the images, relative to the dataset folder (``2750``).
        folder: The dataset folder's name under the data root (``eurosat``).
    """

    name: str
    image_dir: str
    folder: str

    @property
    def split_file(self) -> str:
        """``split_zhou_<name>.json``."""
        return f"split_zhou_{self.name}.json"


#: The layouts this track reads, by card name.
LAYOUTS = {
    "eurosat": CoopLayout("EuroSAT", "2750", "eurosat"),
    "oxford_pets": CoopLayout("OxfordPets", "images", "oxford_pets"),
}


@dataclass(frozen=True)
class CoopIndex:
    """One dataset read from its split file.

    Attributes:
        root: The dataset folder.
        image_dir: The image folder (absolute).
        class_names: Name of each label, in label order.
        paths: split -> the image paths relative to ``image_dir``, in split-file order.
        labels: split -> int64 array of shape (n_images,).
    """

    root: Path
    image_dir: Path
    class_names: tuple[str, ...]
    paths: dict[str, tuple[str, ...]]
    labels: dict[str, np.ndarray]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def read(self, split: str, rows: np.ndarray, size: int) -> np.ndarray:
        """uint8 array of shape (len(rows), size, size, 3): the images ``rows`` of ``split``, resized."""
        return read_images([self.image_dir / self.paths[split][int(i)] for i in rows], size)


def _triples(raw: object, split: str, path: Path) -> list[tuple[str, int, str]]:
    if not isinstance(raw, list):
        msg = f"{path}: '{split}' must be a list of [image path, label, class name]; got {type(raw).__name__}."
        raise DataLayoutError(msg)
    out = []
    for i, item in enumerate(raw):
        ok = isinstance(item, list | tuple) and len(item) == 3 and isinstance(item[0], str)
        if not ok or not isinstance(item[1], int) or isinstance(item[1], bool) or not isinstance(item[2], str):
            msg = (f"{path}: entry {i} of '{split}' must be [image path, label, class name], e.g. "
                   f'["Forest/Forest_1.jpg", 1, "Forest"]; got {item!r}.')
            raise DataLayoutError(msg)
        out.append((item[0], int(item[1]), item[2]))
    return out


def read_split_file(path: str | Path) -> dict[str, list[tuple[str, int, str]]]:
    """Read a ``split_zhou_<Name>.json`` into split -> list of (image path, label, class name).

    Raises:
        DataMissingError: The file does not exist.
        DataLayoutError: It is not JSON, lacks a split or holds a malformed entry; the message names the file.

    Example:
        >>> read_split_file("eurosat/split_zhou_EuroSAT.json")["train"][0]  # doctest: +SKIP
        ('Forest/Forest_2370.jpg', 1, 'Forest')
    """
    path = Path(path)
    if not path.is_file():
        msg = f"split file {path} does not exist; CoOp's DATASETS.md says where to download it (same folder)."
        raise DataMissingError(msg)
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        msg = f"split file {path} is not readable JSON ({exc}); download it again."
        raise DataLayoutError(msg) from exc
    if not isinstance(raw, dict) or any(split not in raw for split in SPLITS):
        keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        msg = f"split file {path} must hold the keys {', '.join(SPLITS)}; got {keys}."
        raise DataLayoutError(msg)
    return {split: _triples(raw[split], split, path) for split in SPLITS}


def _class_names(splits: dict[str, list[tuple[str, int, str]]], path: Path) -> tuple[str, ...]:
    names: dict[int, str] = {}
    for split, triples in splits.items():
        for rel, label, name in triples:
            if names.setdefault(label, name) != name:
                msg = (f"{path}: label {label} is named {names[label]!r} and {name!r} ({split}: {rel}); every "
                       "label has one class name.")
                raise DataLayoutError(msg)
    labels = sorted(names)
    if labels != list(range(len(labels))):
        msg = f"{path}: labels must run over 0 .. n_classes - 1; got {labels[:10]}."
        raise DataLayoutError(msg)
    counts = {split: {label for _, label, _ in triples} for split, triples in splits.items()}
    for split in ("train", "test"):
        empty = [names[label] for label in labels if label not in counts[split]]
        if empty:
            msg = f"{path}: class {empty[0]!r} has no image in '{split}'; every class needs training and test images."
            raise DataLayoutError(msg)
    return tuple(names[label] for label in labels)


def load_index(folder: str | Path, layout: CoopLayout, *, check_files: bool = True) -> CoopIndex:
    """Read a dataset in CoOp's layout.

    Args:
        folder: The dataset folder (holding the split file and the image folder).
        layout: Its :class:`CoopLayout`.
        check_files: Check that every listed image exists (one ``stat`` per image).

    Returns:
        The :class:`CoopIndex`.

    Raises:
        DataMissingError: The split file or the image folder is missing.
        DataLayoutError: The split file is malformed, a label has two names, a class is empty, or a listed image
            does not exist (named relative to the dataset folder).
    """
    folder = Path(folder)
    splits = read_split_file(folder / layout.split_file)
    image_dir = folder / layout.image_dir
    if not image_dir.is_dir():
        msg = f"{layout.name} at {folder}: image folder {layout.image_dir}/ is missing; extract the images there."
        raise DataMissingError(msg)
    names = _class_names(splits, folder / layout.split_file)
    if check_files:
        for split, triples in splits.items():
            for rel, _, _ in triples:
                if not (image_dir / rel).is_file():
                    msg = (f"{layout.name} at {folder}: image {layout.image_dir}/{rel} listed in '{split}' of "
                           f"{layout.split_file} does not exist; re-extract the images.")
                    raise DataLayoutError(msg)
    return CoopIndex(
        folder, image_dir, names,
        {split: tuple(t[0] for t in triples) for split, triples in splits.items()},
        {split: np.array([t[1] for t in triples], dtype=np.int64) for split, triples in splits.items()},
    )


def write_split(path: str | Path, splits: dict[str, list[tuple[str, int, str]]]) -> None:
    """Write a split file: split -> list of (image path, label, class name), as CoOp's JSON."""
    payload = {split: [list(t) for t in splits.get(split, [])] for split in SPLITS}
    Path(path).write_text(json.dumps(payload, indent=1) + "\n")
