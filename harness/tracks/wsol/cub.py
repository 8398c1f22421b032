"""CUB-200-2011: the loader of its official layout, for weakly supervised object localization.

Caltech-UCSD Birds-200-2011 holds 11,788 photographs of 200 bird species (5,994 for training, 5,794 for
testing), each with one bounding box of the bird. WSOL methods train on the image labels only and are scored
on the test boxes. The embedded synthetic default (:mod:`harness.tracks.wsol.synth`) is written in this same
layout, so this loader reads both.

Layout (``<root>``, or ``<root>/CUB_200_2011``, the folder the official archive extracts to)::

    images/<class folder>/<name>.jpg         e.g. images/001.Black_footed_Albatross/<name>.jpg
    images.txt                               <image_id> <path under images/>
    image_class_labels.txt                   <image_id> <class_id>             (class ids 1-based)
    train_test_split.txt                     <image_id> <1 = train | 0 = test>
    bounding_boxes.txt                       <image_id> <x> <y> <width> <height>  (floats, 0-based pixels)
    classes.txt                              <class_id> <class folder name>

A box line ``x y width height`` becomes ``(x, y, x + width, y + height)`` in pixel-edge coordinates, as
wsolevaluation reads it. Boxes may reach past the image border by up to :data:`BORDER_TOLERANCE_PX` pixels or
:data:`BORDER_TOLERANCE_FRACTION` of the image side, whichever is larger (official boxes do: 4 of the 572
images of classes 011-020 reach 1 to 5 px past the bottom border), and are then clipped to the image;
a box further out is an error.

Extension (used by the synthetic default): ``bounding_boxes.txt`` may hold several lines with the same image id,
one per object; the official file has exactly one line per image. Every image needs at least one box line.

A copy with only some classes loads as a smaller dataset when its metadata lists exactly the images present
and ``classes.txt`` only those classes: labels are renumbered densely ``0..n_classes-1`` in class-id order, and
the class names are the folder names of ``classes.txt``.

Reference:
    Wah, Branson, Welinder, Perona, Belongie. "The Caltech-UCSD Birds-200-2011 Dataset." Technical Report
    CNS-TR-2011-001, California Institute of Technology, 2011.
    https://www.vision.caltech.edu/datasets/cub_200_2011/

License:
    Research and non-commercial use; the images are from Flickr and keep their owners' rights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from harness.data import DataLayoutError, DataMissingError, image_shape
from harness.tracks.wsol._index import INDEX_COLUMNS, WsolIndex

__all__ = [
    "BORDER_TOLERANCE_FRACTION",
    "BORDER_TOLERANCE_PX",
    "METADATA_FILES",
    "SUBSETS",
    "list_subsets",
    "load_index",
]

#: The one subset: the whole dataset.
SUBSETS = ("all",)
#: Metadata files beside ``images/``.
METADATA_FILES = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "bounding_boxes.txt", "classes.txt")
#: A box may reach this many pixels past the image border (then it is clipped) ...
BORDER_TOLERANCE_PX = 1.0
#: ... or this fraction of the image side, whichever is larger.
BORDER_TOLERANCE_FRACTION = 0.05
#: Folder the official archive CUB_200_2011.tgz extracts to.
ARCHIVE_DIR = "CUB_200_2011"
IMAGES_DIR = "images"
TITLE = "CUB-200-2011"
SOURCE = "https://www.vision.caltech.edu/datasets/cub_200_2011/"
PLACEMENT = "<data-root>/cub_200_2011/CUB_200_2011/images.txt"
_SPLITS = {"1": "train", "0": "test"}
_HEADER_WORKERS = 8


def _image_id(value: str) -> int:
    if not value.isdigit():
        raise ValueError(value)
    return int(value)


def _split_code(value: str) -> str:
    return _SPLITS[value]


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


#: file -> (rule of a line, example line, converter of each field; the last field of a str rule takes the rest).
_SPECS: dict[str, tuple[str, str, tuple[Callable[[str], object], ...]]] = {
    "images.txt": (
        "<image_id> <class folder>/<file name>",
        "1 001.Black_footed_Albatross/Black_footed_Albatross_0046_18.jpg",
        (_image_id, str),
    ),
    "image_class_labels.txt": ("<image_id> <class_id>", "1 1", (_image_id, _image_id)),
    "train_test_split.txt": ("<image_id> <1 for train, 0 for test>", "1 0", (_image_id, _split_code)),
    "bounding_boxes.txt": (
        "<image_id> <x> <y> <width> <height>",
        "1 60.0 27.0 325.0 304.0",
        (_image_id, _finite, _finite, _finite, _finite),
    ),
    "classes.txt": ("<class_id> <class folder name>", "1 001.Black_footed_Albatross", (_image_id, str)),
}

_Rows = list[tuple[int, tuple]]


def _dataset_dir(root: Path) -> Path | None:
    for folder in (root, root / ARCHIVE_DIR):
        if (folder / "images.txt").is_file():
            return folder
    return None


def list_subsets(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` (or ``root/CUB_200_2011``) holds ``images.txt``, else ``[]``.

    Never raises, whatever ``root`` holds; :func:`load_index` checks the rest of the layout.

    Example:
        >>> list_subsets("/data/cub_200_2011")  # doctest: +SKIP
        ['all']
    """
    try:
        return list(SUBSETS) if _dataset_dir(Path(root).expanduser()) is not None else []
    except OSError:
        return []


def _malformed(where: str, name: str, number: int, line: str) -> DataLayoutError:
    rule, example, _ = _SPECS[name]
    msg = (
        f"{where}: {name} line {number} must read '{rule}', e.g. '{example}'; got {line.strip()!r}. "
        "Fix the line or re-extract the file."
    )
    return DataLayoutError(msg)


def _read_rows(folder: Path, name: str, where: str) -> _Rows:
    """Parse one metadata file into (line number, converted fields) rows; blank lines are skipped."""
    converters = _SPECS[name][2]
    path = folder / name
    if not path.is_file():
        msg = (
            f"{where}: metadata file {name} is missing; the dataset needs {', '.join(METADATA_FILES)} beside "
            f"{IMAGES_DIR}/. Re-extract CUB_200_2011.tgz from {SOURCE}."
        )
        raise DataMissingError(msg)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{where}: {name} is not UTF-8 text ({exc}); re-extract it from the dataset archive."
        raise DataLayoutError(msg) from exc
    rest = converters[-1] is str
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=len(converters) - 1) if rest else line.split()
        if len(parts) != len(converters):
            raise _malformed(where, name, number, line)
        try:
            values = tuple(convert(part.strip()) for convert, part in zip(converters, parts, strict=True))
        except (ValueError, KeyError) as exc:
            raise _malformed(where, name, number, line) from exc
        rows.append((number, values))
    return rows


def _unique(rows: _Rows, name: str, where: str, what: str = "image id") -> dict[int, tuple[int, tuple]]:
    """Map the first field of each row to (line number, the other fields); a repeated key is an error."""
    out: dict[int, tuple[int, tuple]] = {}
    for number, (key, *values) in rows:
        if key in out:
            msg = (
                f"{where}: {name} line {number} repeats {what} {key} of line {out[key][0]}; each {what} has "
                "exactly one line. Remove the duplicate."
            )
            raise DataLayoutError(msg)
        out[key] = (number, tuple(values))
    return out


def _check_ids(listed: dict[int, tuple[int, tuple]], others: dict[str, dict[int, int]], where: str) -> None:
    """Every id of images.txt is in each other file (``others``: name -> id -> first line), and vice versa."""
    for name, ids in others.items():
        for image_id, number in ids.items():
            if image_id not in listed:
                msg = (
                    f"{where}: {name} line {number} names image id {image_id}, which is not in images.txt; "
                    "every image id must be listed in images.txt. Remove the line or add the image."
                )
                raise DataLayoutError(msg)
        for image_id, (number, _) in listed.items():
            if image_id not in ids:
                msg = (
                    f"{where}: images.txt line {number}: image id {image_id} has no line in {name}; every image "
                    f"needs a line in each of {', '.join(METADATA_FILES[1:4])}. Add it or remove the image."
                )
                raise DataLayoutError(msg)


def _image_paths(listed: dict[int, tuple[int, tuple]], folder: Path, where: str) -> dict[int, Path]:
    """Resolve the paths of images.txt under images/; unsafe, repeated or absent files are errors."""
    images = folder / IMAGES_DIR
    if not images.is_dir():
        msg = f"{where}: folder {IMAGES_DIR}/ is missing; re-extract CUB_200_2011.tgz from {SOURCE}."
        raise DataMissingError(msg)
    paths: dict[int, Path] = {}
    seen: dict[str, int] = {}
    missing: list[tuple[int, str]] = []
    for image_id, (number, (rel,)) in sorted(listed.items(), key=lambda item: item[1][0]):
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or "\\" in rel:
            msg = (
                f"{where}: images.txt line {number} must give a path relative to {IMAGES_DIR}/, such as "
                f"'001.Black_footed_Albatross/Black_footed_Albatross_0046_18.jpg'; got {rel!r}."
            )
            raise DataLayoutError(msg)
        if rel in seen:
            msg = (
                f"{where}: images.txt line {number} lists {IMAGES_DIR}/{rel} again (line {seen[rel]}); each image "
                "file has one id. Remove the duplicate line."
            )
            raise DataLayoutError(msg)
        seen[rel] = number
        path = images / pure
        if not path.is_file():
            missing.append((number, rel))
        paths[image_id] = path
    if missing:
        number, rel = missing[0]
        msg = (
            f"{where}: images.txt line {number} lists {IMAGES_DIR}/{rel}, which is not on disk ({len(missing)} of "
            f"{len(listed)} listed images are missing). Restore the files; a copy with only some classes must "
            "list only the images present, in every metadata file."
        )
        raise DataMissingError(msg)
    return paths


def _header_sizes(paths: list[Path]) -> list[tuple[int, int] | DataLayoutError]:
    """(width, height) of each image from its header, read on a thread pool, or the error of an unreadable one."""

    def _one(path: Path) -> tuple[int, int] | DataLayoutError:
        try:
            height, width = image_shape(path)
        except DataLayoutError as exc:
            return exc
        return width, height

    if len(paths) < _HEADER_WORKERS:
        return [_one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=_HEADER_WORKERS) as pool:
        return list(pool.map(_one, paths))


def _cause(error: DataLayoutError) -> str:
    """The decoder's own words for an unreadable header."""
    cause = error.__cause__
    return f"{type(cause).__name__}: {cause}" if cause is not None else str(error)


def _read_sizes(paths: dict[int, Path], listed: dict, folder: Path, where: str) -> dict[int, tuple[int, int]]:
    """(width, height) of every image from its header; the first failure (by id) raises."""
    ids = sorted(paths)
    results = _header_sizes([paths[i] for i in ids])
    sizes = {}
    for image_id, result in zip(ids, results, strict=True):
        if isinstance(result, DataLayoutError):
            rel = paths[image_id].relative_to(folder).as_posix()
            msg = (
                f"{where}: image {rel} (images.txt line {listed[image_id][0]}) cannot be read ({_cause(result)}); the "
                "file is truncated, corrupt or not an image. Re-extract it from the dataset archive."
            )
            raise DataLayoutError(msg) from result
        sizes[image_id] = result
    return sizes


def _box(number: int, values: tuple, size: tuple[int, int], where: str, image: str) -> list[float]:
    """Check one box line against its image's (width, height) and return it clipped, in pixel edges."""
    image_id, x, y, width, height = values
    if width <= 0 or height <= 0:
        which = "width" if width <= 0 else "height"
        msg = (
            f"{where}: bounding_boxes.txt line {number}: the box of image {image_id} has {which} "
            f"{width if width <= 0 else height:g}; width and height must be > 0. Fix or remove the line."
        )
        raise DataLayoutError(msg)
    image_w, image_h = size
    tol_x = max(BORDER_TOLERANCE_PX, BORDER_TOLERANCE_FRACTION * image_w)
    tol_y = max(BORDER_TOLERANCE_PX, BORDER_TOLERANCE_FRACTION * image_h)
    x1, y1 = x + width, y + height
    inside = -tol_x <= x < image_w and -tol_y <= y < image_h and 0 < x1 <= image_w + tol_x and 0 < y1 <= image_h + tol_y
    if not inside:
        msg = (
            f"{where}: bounding_boxes.txt line {number}: the box (x0, y0, x1, y1) = ({x:g}, {y:g}, {x1:g}, {y1:g}) "
            f"of image {image_id} lies outside its image {image} ({image_w}x{image_h} px, WxH) by more than "
            f"{tol_x:g} x {tol_y:g} px; boxes are 'x y width height' in 0-based pixels of the image. Fix the line."
        )
        raise DataLayoutError(msg)
    return [max(x, 0.0), max(y, 0.0), min(x1, float(image_w)), min(y1, float(image_h))]


def _labels(
    classes: dict[int, tuple[int, tuple]], labels: dict[int, tuple[int, tuple]], where: str
) -> tuple[tuple[str, ...], dict[int, int]]:
    """(class names in class-id order, class id -> dense label); unnamed and empty classes are errors."""
    used: set[int] = set()
    for image_id, (number, (class_id,)) in labels.items():
        if class_id not in classes:
            msg = (
                f"{where}: image_class_labels.txt line {number}: class id {class_id} of image {image_id} has no "
                f"name in classes.txt; add a line '{class_id} <class folder name>' to classes.txt."
            )
            raise DataLayoutError(msg)
        used.add(class_id)
    for class_id, (number, (name,)) in sorted(classes.items()):
        if class_id not in used:
            msg = (
                f"{where}: classes.txt line {number}: class {class_id} ({name}) is an empty class, with no image "
                "in image_class_labels.txt; remove the line or add the class's images."
            )
            raise DataLayoutError(msg)
    order = sorted(classes)
    return tuple(classes[c][1][0] for c in order), {c: i for i, c in enumerate(order)}


def load_index(root: str | Path, subset: str = "all") -> WsolIndex:
    """Index CUB-200-2011 (or a copy with some classes, or the synthetic default) after checking its layout.

    Every metadata line is parsed and cross-checked, every listed image must exist, and every image header is
    read (size only, on a thread pool: about 0.1 ms per image from a warm disk cache) to check the boxes.

    Args:
        root: The folder holding ``images.txt``, or its parent holding ``CUB_200_2011/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index: images sorted by ``image_id`` (the dataset's ids), absolute paths, dense labels, split
        ``"train"`` or ``"test"``, sizes from the headers; boxes of every image, ``(x0, y0, x1, y1)`` clipped
        to the image, one row per line of ``bounding_boxes.txt`` in file order.

    Raises:
        DataMissingError: ``root``, a metadata file, ``images/`` or a listed image is not on disk.
        DataLayoutError: A line is malformed; an id is missing from or unknown to a file; a class has no name
            or no image; a box has zero width or height or lies outside its image; an image header cannot be
            read. The message names the file (relative to the dataset folder) and the line.

    Example:
        >>> index = load_index("/data/cub_200_2011")  # doctest: +SKIP
        >>> index.n_classes, index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        (200, {'test': 5794, 'train': 5994})
    """
    if subset not in SUBSETS:
        msg = f"subset of {TITLE} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        msg = (
            f"{TITLE} folder {base} does not exist. Download CUB_200_2011.tgz from {SOURCE} and extract it so that "
            f"{PLACEMENT} exists; then pass that folder as --data-root."
        )
        raise DataMissingError(msg)
    folder = _dataset_dir(base)
    if folder is None:
        msg = (
            f"{TITLE} at {base}: images.txt is in neither {base} nor {base / ARCHIVE_DIR}. Extract CUB_200_2011.tgz "
            f"from {SOURCE} so that {PLACEMENT} exists."
        )
        raise DataMissingError(msg)
    where = f"{TITLE} at {folder}"
    rows = {name: _read_rows(folder, name, where) for name in METADATA_FILES}
    listed = _unique(rows["images.txt"], "images.txt", where)
    labels = _unique(rows["image_class_labels.txt"], "image_class_labels.txt", where)
    splits = _unique(rows["train_test_split.txt"], "train_test_split.txt", where)
    classes = _unique(rows["classes.txt"], "classes.txt", where, what="class id")
    box_ids: dict[int, int] = {}
    for number, values in rows["bounding_boxes.txt"]:
        box_ids.setdefault(values[0], number)
    others = {
        "image_class_labels.txt": {k: v[0] for k, v in labels.items()},
        "train_test_split.txt": {k: v[0] for k, v in splits.items()},
        "bounding_boxes.txt": box_ids,
    }
    _check_ids(listed, others, where)
    class_names, dense = _labels(classes, labels, where)
    paths = _image_paths(listed, folder, where)
    sizes = _read_sizes(paths, listed, folder, where)
    boxes: dict[int, list[list[float]]] = {}
    for number, values in rows["bounding_boxes.txt"]:
        image_id = values[0]
        rel = paths[image_id].relative_to(folder).as_posix()
        boxes.setdefault(image_id, []).append(_box(number, values, sizes[image_id], where, rel))
    ids = sorted(listed)
    images = pd.DataFrame(
        {
            "image_id": np.asarray(ids, dtype=np.int64),
            "path": [str(paths[i]) for i in ids],
            "label": np.asarray([dense[labels[i][1][0]] for i in ids], dtype=np.int64),
            "split": [splits[i][1][0] for i in ids],
            "width": np.asarray([sizes[i][0] for i in ids], dtype=np.int64),
            "height": np.asarray([sizes[i][1] for i in ids], dtype=np.int64),
        },
        columns=list(INDEX_COLUMNS),
    )
    return WsolIndex(
        class_names=class_names,
        images=images,
        boxes={i: np.asarray(boxes[i], dtype=np.float64) for i in ids},
    )
