"""Shared checks of the loaders: folder and file listing, image/mask pairing, the index frame."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from harness.data._images import image_shape
from harness.data.errors import DataLayoutError, DataMissingError

__all__ = ["INDEX_COLUMNS", "validate_index"]

#: Columns every loader returns, in this order (loaders may append extra ones).
INDEX_COLUMNS = ("split", "label", "defect", "image_path", "mask_path")
#: Threads used to read image headers while checking a layout.
_HEADER_WORKERS = 8


def resolve_root(root: str | Path, title: str, source: str, placement: str) -> Path:
    """Return the absolute dataset folder, or raise an error saying where to get and put the data."""
    path = Path(root).expanduser().resolve()
    if not path.is_dir():
        msg = (
            f"{title} folder {path} does not exist. Download the dataset from {source} and extract it "
            f"so that {placement} exists; then pass that folder as --data-root."
        )
        raise DataMissingError(msg)
    return path


def category_dir(root: Path, subset: str, title: str, present: Sequence[str]) -> Path:
    """Return ``root / subset`` after checking that ``subset`` is a plain folder name on disk."""
    if not subset or "/" in subset or "\\" in subset or subset in (".", ".."):
        msg = f"subset of {title} must be a category folder name such as 'bottle'; got {subset!r}."
        raise DataLayoutError(msg)
    folder = root / subset
    if not folder.is_dir():
        shown = ", ".join(present[:20]) + (f", ... ({len(present)} in all)" if len(present) > 20 else "")
        msg = (
            f"{title} at {root}: category {subset!r} is not there; present: {shown or 'none'}. "
            f"Check the spelling or extract the category into {folder}."
        )
        raise DataMissingError(msg)
    return folder


def list_files(folder: Path, extensions: Sequence[str], where: str, base: Path) -> list[Path]:
    """Return the files of ``folder`` sorted by name; any visible file with another extension is an error."""
    files = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        if path.suffix.lower() not in extensions:
            rel = path.relative_to(base).as_posix()
            msg = (
                f"{where}: file {rel} has extension {path.suffix!r}, which is not accepted here; "
                f"accepted: {', '.join(extensions)}. Move the file out of the dataset folder."
            )
            raise DataLayoutError(msg)
        files.append(path)
    return files


def subfolders(folder: Path) -> list[Path]:
    """Return the visible subfolders of ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _shape_or_raise(path: Path, where: str, base: Path, what: str) -> tuple[int, int]:
    try:
        return image_shape(path, what=what)
    except DataLayoutError as exc:
        rel = path.relative_to(base).as_posix()
        cause = exc.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        msg = (
            f"{where}: {what} {rel} cannot be read ({detail}); the file is truncated, corrupt or "
            "not an image. Re-extract it from the dataset archive."
        )
        raise DataLayoutError(msg) from exc


def check_pairs(
    images: Iterable[Path],
    masks: Iterable[Path | None],
    where: str,
    base: Path,
) -> None:
    """Check that every image header (and its mask's, if any) is readable and that the sizes agree.

    Args:
        images: Image files.
        masks: Mask file of each image, or None for a good image.
        where: Prefix of the error messages, e.g. ``"MVTec AD at /data/mvtec/bottle"``.
        base: Folder the paths are shown relative to.

    Raises:
        DataLayoutError: A header cannot be read, or a mask's size differs from its image's.
    """
    pairs = list(zip(images, masks, strict=True))

    def _one(pair: tuple[Path, Path | None]) -> None:
        image, mask = pair
        image_hw = _shape_or_raise(image, where, base, "image")
        if mask is None:
            return
        mask_hw = _shape_or_raise(mask, where, base, "mask")
        if mask_hw != image_hw:
            msg = (
                f"{where}: mask {mask.relative_to(base).as_posix()} is {mask_hw[1]}x{mask_hw[0]} (WxH) "
                f"but its image {image.relative_to(base).as_posix()} is {image_hw[1]}x{image_hw[0]}; "
                "masks must have their image's resolution. Re-extract both files."
            )
            raise DataLayoutError(msg)

    if len(pairs) < _HEADER_WORKERS:
        for pair in pairs:
            _one(pair)
        return
    with ThreadPoolExecutor(max_workers=_HEADER_WORKERS) as pool:
        list(pool.map(_one, pairs))


def make_index(records: list[dict], extra_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Build the index frame from row dicts: fixed column order and dtypes, sorted by (split, image_path)."""
    columns = list(INDEX_COLUMNS) + list(extra_columns)
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["label"] = frame["label"].astype("int64")
    for column in columns:
        if column != "label":
            frame[column] = frame[column].astype(str)
    return frame.sort_values(["split", "image_path"], kind="stable").reset_index(drop=True)


def validate_index(index: pd.DataFrame, *, name: str = "index") -> None:
    """Check an index frame against the loader contract (columns, values, order, uniqueness).

    Args:
        index: Frame returned by a loader.
        name: Word used for the frame in the error message.

    Raises:
        ValueError: A column is missing, a value is out of its vocabulary, rows are not sorted,
            an image appears twice, or an anomalous image has no mask.

    Example:
        >>> validate_index(mvtec_ad.load_index(root, "bottle"))  # doctest: +SKIP
    """
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        msg = f"{name} must have the columns {list(INDEX_COLUMNS)}; missing {missing}."
        raise ValueError(msg)
    bad_labels = sorted(set(index["label"].tolist()) - {0, 1})
    if bad_labels:
        msg = f"label column of {name} must be 0 or 1; got {bad_labels}."
        raise ValueError(msg)
    keys = list(zip(index["split"], index["image_path"], strict=True))
    if keys != sorted(keys):
        msg = f"rows of {name} must be sorted by (split, image_path)."
        raise ValueError(msg)
    duplicated = index["image_path"][index["image_path"].duplicated()].tolist()
    if duplicated:
        msg = f"image_path of {name} must be unique; {duplicated[0]} appears more than once."
        raise ValueError(msg)
    unmasked = index[(index["label"] == 1) & (index["mask_path"] == "")]["image_path"].tolist()
    if unmasked:
        msg = f"every anomalous image of {name} must have a mask_path; {unmasked[0]} has none."
        raise ValueError(msg)
    good_defects = sorted(set(index.loc[index["label"] == 0, "defect"]) - {"good"})
    if good_defects:
        msg = f"defect of the good rows of {name} must be 'good'; got {good_defects}."
        raise ValueError(msg)
