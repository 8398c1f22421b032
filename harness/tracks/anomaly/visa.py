"""VisA (Visual Anomaly): the loader of its official split file and folder layout.

VisA has 12 objects (PCBs, candles, capsules, snacks, ...) with 9,621 normal and 1,200 anomalous
images, several objects per image for some subsets, and pixel masks for every anomaly. The split
used by the paper's one-class protocol ships as ``split_csv/1cls.csv`` in the archive.

Layout (``<root>`` is the extracted archive)::

    split_csv/1cls.csv                        columns object, split, label, image, mask
    <object>/Data/Images/Normal/0000.JPG
    <object>/Data/Images/Anomaly/000.JPG
    <object>/Data/Masks/Anomaly/000.png       0 = good, any nonzero value = anomaly

``split`` is "train" or "test", ``label`` "normal" or "anomaly"; ``image`` and ``mask`` are paths
relative to ``<root>`` (``mask`` is empty for normal images). The masks of the raw archive store
small class values (0/1, ...), not 0/255: every nonzero pixel is read as anomalous.

Reference:
    Zou, Jeong, Pemula, Zhang, Dabeer. "SPot-the-Difference Self-Supervised Pre-training for Anomaly
    Detection and Segmentation." ECCV 2022. arXiv:2207.14315. https://github.com/amazon-science/spot-diff

License:
    The dataset is released under CC BY 4.0.

Index columns (see :mod:`harness.data`): ``split`` ("train" | "test"), ``label`` (0 | 1),
``defect`` ("good" | "anomaly"; the one-class split does not name defect types), ``image_path``,
``mask_path`` ("" for normal images); rows sorted by (split, image_path).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.data.errors import DataLayoutError, DataMissingError
from harness.tracks.anomaly._layout import check_pairs, make_index, resolve_root

__all__ = ["CATEGORIES", "CSV_COLUMNS", "SPLITS", "SPLIT_FILE", "list_subsets", "load_index"]

#: The 12 official objects.
CATEGORIES = (
    "candle",
    "capsules",
    "cashew",
    "chewinggum",
    "fryum",
    "macaroni1",
    "macaroni2",
    "pcb1",
    "pcb2",
    "pcb3",
    "pcb4",
    "pipe_fryum",
)
#: Split file of the one-class protocol, relative to the root.
SPLIT_FILE = "split_csv/1cls.csv"
#: Columns the split file must have.
CSV_COLUMNS = ("object", "split", "label", "image", "mask")
#: Splits of the index.
SPLITS = ("train", "test")
#: Values of the ``label`` column, mapped to the index label.
LABELS = {"normal": 0, "anomaly": 1}
#: Defect name of each label (the one-class split has no defect types).
DEFECTS = {0: "good", 1: "anomaly"}

TITLE = "VisA"
SOURCE = "https://github.com/amazon-science/spot-diff"
PLACEMENT = "<data-root>/visa/split_csv/1cls.csv and <data-root>/visa/<object>/Data/Images/Normal/0000.JPG"


def _read_split_file(base: Path) -> pd.DataFrame:
    path = base / SPLIT_FILE
    where = f"{TITLE} at {base}"
    if not path.is_file():
        msg = (
            f"{where}: split file {SPLIT_FILE} is missing; it ships in the VisA archive from {SOURCE}. "
            "Extract the whole archive so that split_csv/ sits beside the object folders."
        )
        raise DataMissingError(msg)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        msg = f"{where}: split file {SPLIT_FILE} cannot be read as CSV ({exc}); re-extract it from the archive."
        raise DataLayoutError(msg) from exc
    missing = [c for c in CSV_COLUMNS if c not in table.columns]
    if missing:
        msg = (
            f"{where}: split file {SPLIT_FILE} must have the columns {', '.join(CSV_COLUMNS)}; "
            f"missing {', '.join(missing)} (found {', '.join(map(str, table.columns))})."
        )
        raise DataLayoutError(msg)
    return table.apply(lambda column: column.str.strip())


def list_subsets(root: str | Path) -> list[str]:
    """Return the objects listed in ``split_csv/1cls.csv``.

    Args:
        root: The extracted VisA folder.

    Returns:
        Sorted object names; empty when the folder or its split file is missing.

    Example:
        >>> list_subsets("/data/visa")  # doctest: +SKIP
        ['candle', 'capsules', ...]
    """
    path = Path(root).expanduser()
    if not (path / SPLIT_FILE).is_file():
        return []
    return sorted(set(_read_split_file(path.resolve())["object"]) - {""})


def _check_row(row: pd.Series, line: int, where: str) -> tuple[int, str]:
    label = LABELS.get(row["label"])
    if label is None:
        msg = f"{where}: {SPLIT_FILE} line {line}: label must be one of {', '.join(LABELS)}; got {row['label']!r}."
        raise DataLayoutError(msg)
    if row["split"] not in SPLITS:
        msg = f"{where}: {SPLIT_FILE} line {line}: split must be one of {', '.join(SPLITS)}; got {row['split']!r}."
        raise DataLayoutError(msg)
    if label == 1 and row["split"] == "train":
        msg = (
            f"{where}: {SPLIT_FILE} line {line}: anomalous image {row['image']} is in the train split; "
            "the one-class protocol trains on normal images only. Use the official 1cls.csv."
        )
        raise DataLayoutError(msg)
    if label == 1 and not row["mask"]:
        msg = (
            f"{where}: {SPLIT_FILE} line {line}: anomalous image {row['image']} has no mask; every "
            "anomaly needs one, e.g. candle/Data/Masks/Anomaly/000.png. Use the official 1cls.csv."
        )
        raise DataLayoutError(msg)
    return label, row["split"]


def _existing(base: Path, rel: str, what: str, line: int, where: str) -> Path:
    path = (base / rel).resolve()
    if not path.is_file():
        msg = (
            f"{where}: {what} {rel} (listed in {SPLIT_FILE} line {line}) does not exist; extract the "
            "whole archive without renaming files."
        )
        raise DataLayoutError(msg)
    return path


def load_index(root: str | Path, subset: str) -> pd.DataFrame:
    """Index one VisA object from ``split_csv/1cls.csv`` after checking its files.

    Args:
        root: The extracted VisA folder (holds ``split_csv/`` and the object folders).
        subset: Object, e.g. ``"candle"``.

    Returns:
        Index frame with the columns split, label, defect, image_path, mask_path (see the module
        docstring), sorted by (split, image_path).

    Raises:
        DataMissingError: ``root``, the split file or the object is missing.
        DataLayoutError: A row is malformed, a listed image or mask is missing or unreadable, or a
            mask's size differs from its image's; the message names the file and the CSV line.

    Example:
        >>> index = load_index("/data/visa", "candle")  # doctest: +SKIP
        >>> index.groupby("split").size().to_dict()  # doctest: +SKIP
        {'test': 200, 'train': 900}
    """
    base = resolve_root(root, TITLE, SOURCE, PLACEMENT)
    where = f"{TITLE} at {base}"
    table = _read_split_file(base)
    rows = table[table["object"] == subset]
    if rows.empty:
        present = sorted(set(table["object"]) - {""})
        msg = (
            f"{where}: object {subset!r} is not in {SPLIT_FILE}; present: {', '.join(present) or 'none'}. "
            "Check the spelling, or use the official split file."
        )
        raise DataMissingError(msg)
    records = []
    images: list[Path] = []
    masks: list[Path | None] = []
    for position, row in rows.iterrows():
        line = int(position) + 2  # header is line 1
        label, split = _check_row(row, line, where)
        image = _existing(base, row["image"], "image", line, where)
        mask = _existing(base, row["mask"], "mask", line, where) if label == 1 else None
        records.append(
            {
                "split": split,
                "label": label,
                "defect": DEFECTS[label],
                "image_path": str(image),
                "mask_path": "" if mask is None else str(mask),
            }
        )
        images.append(image)
        masks.append(mask)
    index = make_index(records)
    duplicated = index["image_path"][index["image_path"].duplicated()]
    if not duplicated.empty:
        rel = Path(duplicated.iloc[0]).relative_to(base).as_posix()
        msg = f"{where}: image {rel} is listed more than once in {SPLIT_FILE}; each image belongs to one split."
        raise DataLayoutError(msg)
    if not (index["split"] == "train").any():
        msg = f"{where}: object {subset!r} has no train rows in {SPLIT_FILE}; use the official split file."
        raise DataLayoutError(msg)
    check_pairs(images, masks, where, base)
    return index
