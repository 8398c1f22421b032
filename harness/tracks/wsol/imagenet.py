"""ImageNet-1K (ILSVRC2012) for weakly supervised object localization: training images and validation boxes.

WSOL on ImageNet trains on the 1,281,167 training images of the 1,000 classes with their image labels and is
scored on the 50,000 validation images, whose boxes come with the challenge (``ILSVRC2012_bbox_val_v3.tgz``).
The validation images are the ``test`` split of the index.

Layout (``<root>``)::

    train/<wnid>/<name>.JPEG                  e.g. train/n01440764/n01440764_10026.JPEG (label from the folder)
    val/ILSVRC2012_val_00000001.JPEG          flat (``val/<wnid>/...JPEG`` is accepted too)
    val/ILSVRC2012_val_00000001.xml           boxes, PASCAL VOC XML; or in bbox_val/val/ or bbox_val/
    LOC_synset_mapping.txt                    optional: "n01440764 tench, Tinca tinca", one class per line

Each XML file gives ``<size><width>``/``<height>`` and one ``<object>`` per box, with ``<name>`` (the wnid) and
``<bndbox>`` ``xmin, ymin, xmax, ymax``. A box becomes ``(x0, y0, x1, y1) = (xmin, ymin, xmax, ymax)`` in
pixel-edge coordinates, as wsolevaluation's metadata reads it. Boxes may reach past the border by the
tolerance of :mod:`harness.tracks.wsol.cub` and are then clipped to the image.

Classes are the sorted wnids of the ``train/`` folders, so a copy with only some classes loads; only the
validation images whose objects belong to those classes are indexed (the others are skipped, and their number
is logged at INFO level). An XML file without its JPEG is ignored (the box archive may hold all 50,000). Class
names come from ``LOC_synset_mapping.txt`` when it is there, else they are the wnids. Training images have no
boxes: :attr:`WsolIndex.boxes` holds the validation images only. Image ids run from 0 over the training images,
then the validation images, each in sorted path order.

Every image header is read once to get the size of the training images and to check the validation sizes of the
XML files (about 0.1 ms per image from a warm disk cache, on a thread pool: a minute or two for the full set).

Reference:
    Russakovsky, Deng, Su, Krause, Satheesh, Ma, Huang, Karpathy, Khosla, Bernstein, Berg, Fei-Fei.
    "ImageNet Large Scale Visual Recognition Challenge." IJCV 115(3), 2015.
    https://image-net.org/challenges/LSVRC/2012/

License:
    ImageNet terms of access: non-commercial research and educational use only.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.wsol._index import INDEX_COLUMNS, WsolIndex
from harness.tracks.wsol.cub import BORDER_TOLERANCE_FRACTION, BORDER_TOLERANCE_PX, _cause, _header_sizes

__all__ = ["IMG_EXTENSIONS", "SUBSETS", "SYNSET_FILE", "XML_DIRS", "list_subsets", "load_index"]

#: The one subset: every class present.
SUBSETS = ("all",)
#: Accepted image extensions (compared lower-case).
IMG_EXTENSIONS = (".jpeg", ".jpg", ".png")
#: Folders searched for the validation XML files, in this order (the first one holding a file wins).
XML_DIRS = ("val", "bbox_val/val", "bbox_val")
#: Optional file of class names.
SYNSET_FILE = "LOC_synset_mapping.txt"
TITLE = "ImageNet (ILSVRC2012)"
SOURCE = "https://image-net.org/challenges/LSVRC/2012/"
PLACEMENT = (
    "<data-root>/imagenet_wsol/train/n01440764/n01440764_10026.JPEG and "
    "<data-root>/imagenet_wsol/val/ILSVRC2012_val_00000001.JPEG (+ .xml)"
)
_BOX_TAGS = ("xmin", "ymin", "xmax", "ymax")
_LOG = logging.getLogger(__name__)


def list_subsets(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` holds both ``train/`` and ``val/``, else ``[]``; never raises.

    Example:
        >>> list_subsets("/data/imagenet_wsol")  # doctest: +SKIP
        ['all']
    """
    try:
        path = Path(root).expanduser()
        return list(SUBSETS) if (path / "train").is_dir() and (path / "val").is_dir() else []
    except OSError:
        return []


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _image_files(folder: Path, base: Path, where: str, *, skip: tuple[str, ...] = ()) -> list[Path]:
    """Images of ``folder`` sorted by name; another visible file (not a folder, not in ``skip``) is an error."""
    files = []
    for path in _visible(folder):
        suffix = path.suffix.lower()
        if path.is_dir() or suffix in skip:
            continue
        if suffix not in IMG_EXTENSIONS:
            msg = (
                f"{where}: file {path.relative_to(base).as_posix()} has extension {path.suffix!r}, which is not "
                f"accepted here; accepted: {', '.join(IMG_EXTENSIONS)}. Move the file out of the dataset folder."
            )
            raise DataLayoutError(msg)
        files.append(path)
    return files


def _train_files(base: Path, where: str) -> dict[str, list[Path]]:
    train = base / "train"
    classes = [p for p in _visible(train) if p.is_dir()]
    if not classes:
        msg = f"{where}: train/ holds no class folder; training images go in train/<wnid>/, e.g. {PLACEMENT}."
        raise DataLayoutError(msg)
    out = {}
    for folder in classes:
        files = _image_files(folder, base, where)
        if not files:
            msg = (
                f"{where}: class folder train/{folder.name} is empty (no {', '.join(IMG_EXTENSIONS)} file); "
                "every class needs training images. Fill it from the training archive or remove it."
            )
            raise DataLayoutError(msg)
        out[folder.name] = files
    return out


def _class_names(base: Path, wnids: list[str], where: str) -> tuple[str, ...]:
    path = base / SYNSET_FILE
    if not path.is_file():
        return tuple(wnids)
    names: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        wnid, _, name = line.strip().partition(" ")
        if not name.strip():
            msg = (
                f"{where}: {SYNSET_FILE} line {number} must read '<wnid> <names>', e.g. "
                f"'n01440764 tench, Tinca tinca'; got {line.strip()!r}. Fix the line."
            )
            raise DataLayoutError(msg)
        names[wnid] = name.strip()
    absent = [w for w in wnids if w not in names]
    if absent:
        msg = (
            f"{where}: {SYNSET_FILE} has no line for class folder train/{absent[0]} ({len(absent)} of {len(wnids)} "
            f"classes have none); add '{absent[0]} <names>' or remove {SYNSET_FILE} to name classes by wnid."
        )
        raise DataLayoutError(msg)
    return tuple(names[w] for w in wnids)


def _xml_files(base: Path) -> dict[str, Path]:
    """Stem -> XML file, from :data:`XML_DIRS` in order (the first folder holding a stem wins)."""
    found: dict[str, Path] = {}
    for rel in XML_DIRS:
        folder = base / rel
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.suffix.lower() == ".xml" and not path.name.startswith("."):
                found.setdefault(path.stem, path)
    return found


def _number(node: ET.Element, tag: str, rel: str, where: str) -> float:
    child = node.find(tag)
    try:
        return float((child.text or "").strip()) if child is not None else float("nan")
    except ValueError as exc:
        msg = f"{where}: {rel}: <{tag}> must be a number; got {child.text!r}. Re-extract the box archive."
        raise DataLayoutError(msg) from exc


def _parse_xml(path: Path, base: Path, where: str) -> tuple[int, int, list[str], list[list[float]]]:
    """(width, height, wnid of each object, raw box of each object) of one PASCAL VOC file."""
    rel = path.relative_to(base).as_posix()
    try:
        tree = ET.parse(path)
    except ET.ParseError as exc:
        line, column = exc.position
        msg = (
            f"{where}: box file {rel} is not well-formed XML (line {line}, column {column}: {exc}); "
            "re-extract it from ILSVRC2012_bbox_val_v3.tgz."
        )
        raise DataLayoutError(msg) from exc
    size = tree.getroot().find("size")
    dims = [_number(size, tag, rel, where) if size is not None else float("nan") for tag in ("width", "height")]
    if not all(d > 0 and d == int(d) for d in dims):
        msg = f"{where}: box file {rel} must give <size><width> and <height> as positive integers; got {dims}."
        raise DataLayoutError(msg)
    wnids, boxes = [], []
    for obj in tree.getroot().iter("object"):
        name, bndbox = obj.find("name"), obj.find("bndbox")
        if name is None or not (name.text or "").strip() or bndbox is None:
            msg = f"{where}: box file {rel}: every <object> needs a <name> (the wnid) and a <bndbox>; one has not."
            raise DataLayoutError(msg)
        box = [_number(bndbox, tag, rel, where) for tag in _BOX_TAGS]
        if any(b != b for b in box):
            msg = f"{where}: box file {rel}: a <bndbox> lacks one of {', '.join(_BOX_TAGS)}; re-extract the file."
            raise DataLayoutError(msg)
        wnids.append(name.text.strip())
        boxes.append(box)
    if not boxes:
        msg = (
            f"{where}: box file {rel} holds no <object>; every validation image has at least one box. "
            "Re-extract it from ILSVRC2012_bbox_val_v3.tgz."
        )
        raise DataLayoutError(msg)
    return int(dims[0]), int(dims[1]), wnids, boxes


def _check_box(box: list[float], size: tuple[int, int], rel: str, where: str) -> list[float]:
    x0, y0, x1, y1 = box
    width, height = size
    if x1 <= x0 or y1 <= y0:
        msg = (
            f"{where}: box file {rel}: box (xmin, ymin, xmax, ymax) = ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has zero "
            "or negative width or height; xmax must exceed xmin and ymax ymin. Re-extract the file."
        )
        raise DataLayoutError(msg)
    tol_x = max(BORDER_TOLERANCE_PX, BORDER_TOLERANCE_FRACTION * width)
    tol_y = max(BORDER_TOLERANCE_PX, BORDER_TOLERANCE_FRACTION * height)
    if not (-tol_x <= x0 < width and -tol_y <= y0 < height and 0 < x1 <= width + tol_x and 0 < y1 <= height + tol_y):
        msg = (
            f"{where}: box file {rel}: box (xmin, ymin, xmax, ymax) = ({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside "
            f"the image ({width}x{height} px, WxH) by more than {tol_x:g} x {tol_y:g} px. Re-extract the file."
        )
        raise DataLayoutError(msg)
    return [max(x0, 0.0), max(y0, 0.0), min(x1, float(width)), min(y1, float(height))]


def _val_entries(base: Path, known: set[str], where: str) -> list[tuple[Path, str, Path, int, int, list]]:
    """(JPEG, wnid, XML, width, height, raw boxes) of every validation image of a known class, by path."""
    val = base / "val"
    files = _image_files(val, base, where, skip=(".xml",))
    for folder in (p for p in _visible(val) if p.is_dir()):
        files += _image_files(folder, base, where, skip=(".xml",))
    xmls = _xml_files(base)
    entries, skipped = [], 0
    for path in sorted(files):
        rel = path.relative_to(base).as_posix()
        if path.stem not in xmls:
            msg = (
                f"{where}: validation image {rel} has no box file {path.stem}.xml in any of "
                f"{', '.join(d + '/' for d in XML_DIRS)}; extract ILSVRC2012_bbox_val_v3.tgz into bbox_val/."
            )
            raise DataLayoutError(msg)
        xml = xmls[path.stem]
        width, height, wnids, boxes = _parse_xml(xml, base, where)
        if len(set(wnids)) > 1:
            msg = (
                f"{where}: box file {xml.relative_to(base).as_posix()} names several classes "
                f"({', '.join(sorted(set(wnids)))}); the objects of one validation image share its class."
            )
            raise DataLayoutError(msg)
        if path.parent != val and path.parent.name != wnids[0]:
            msg = (
                f"{where}: validation image {rel} is in folder val/{path.parent.name} but its box file names class "
                f"{wnids[0]}; move the image to val/{wnids[0]}/ or keep val/ flat."
            )
            raise DataLayoutError(msg)
        if wnids[0] not in known:
            skipped += 1
            continue
        entries.append((path, wnids[0], xml, width, height, boxes))
    if skipped:
        _LOG.info("%s: skipped %d validation images of classes without a train/ folder.", where, skipped)
    if not entries:
        msg = (
            f"{where}: no validation image belongs to one of the {len(known)} classes of train/ "
            f"({skipped} skipped); put the validation JPEGs of those classes in val/."
        )
        raise DataLayoutError(msg)
    return entries


def load_index(root: str | Path, subset: str = "all") -> WsolIndex:
    """Index ImageNet's training images and the validation images with boxes, after checking the layout.

    Args:
        root: The folder holding ``train/`` and ``val/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index: training rows (split ``"train"``) then validation rows (split ``"test"``), ids 0, 1, ...;
        labels index the sorted wnids of ``train/``; sizes from the headers; boxes of the validation images
        only, ``(xmin, ymin, xmax, ymax)`` clipped to the image, one row per ``<object>``.

    Raises:
        DataMissingError: ``root``, ``train/`` or ``val/`` is not on disk.
        DataLayoutError: An empty class folder; a file with another extension; a validation image without its
            XML file; an XML file that is malformed, has no object or names several classes; a box of zero size
            or outside its image; a size that differs from the image header; an unreadable image. The message
            names the file relative to ``root``.

    Example:
        >>> index = load_index("/data/imagenet_wsol")  # doctest: +SKIP
        >>> index.n_classes, index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        (1000, {'test': 50000, 'train': 1281167})
    """
    if subset not in SUBSETS:
        msg = f"subset of {TITLE} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    for folder in (base, base / "train", base / "val"):
        if not folder.is_dir():
            msg = (
                f"{TITLE} folder {folder} does not exist. Download the training images and the validation images "
                f"and boxes from {SOURCE} and extract them so that {PLACEMENT} exist; then pass that folder as "
                "--data-root."
            )
            raise DataMissingError(msg)
    where = f"{TITLE} at {base}"
    train = _train_files(base, where)
    wnids = sorted(train)
    class_names = _class_names(base, wnids, where)
    label_of = {w: i for i, w in enumerate(wnids)}
    entries = _val_entries(base, set(wnids), where)
    train_rows = sorted((p, label_of[w]) for w, files in train.items() for p in files)
    paths = [p for p, _ in train_rows] + [e[0] for e in entries]
    sizes = _header_sizes(paths)
    for path, size in zip(paths, sizes, strict=True):
        if isinstance(size, DataLayoutError):
            msg = (
                f"{where}: image {path.relative_to(base).as_posix()} cannot be read ({_cause(size)}); the file is "
                "truncated, corrupt or not an image. Re-extract it from the dataset archive."
            )
            raise DataLayoutError(msg) from size
    boxes = {}
    n_train = len(train_rows)
    for i, (path, _, xml, width, height, raw) in enumerate(entries):
        rel_xml = xml.relative_to(base).as_posix()
        if sizes[n_train + i] != (width, height):
            msg = (
                f"{where}: box file {rel_xml} gives the size {width}x{height} (WxH) but its image "
                f"{path.relative_to(base).as_posix()} is {sizes[n_train + i][0]}x{sizes[n_train + i][1]}; "
                "the XML file belongs to another image. Re-extract both."
            )
            raise DataLayoutError(msg)
        boxes[n_train + i] = np.asarray([_check_box(b, (width, height), rel_xml, where) for b in raw], dtype=np.float64)
    images = pd.DataFrame(
        {
            "image_id": np.arange(len(paths), dtype=np.int64),
            "path": [str(p) for p in paths],
            "label": np.asarray([lab for _, lab in train_rows] + [label_of[e[1]] for e in entries], dtype=np.int64),
            "split": ["train"] * n_train + ["test"] * len(entries),
            "width": np.asarray([s[0] for s in sizes], dtype=np.int64),
            "height": np.asarray([s[1] for s in sizes], dtype=np.int64),
        },
        columns=list(INDEX_COLUMNS),
    )
    return WsolIndex(class_names=class_names, images=images, boxes=boxes)
