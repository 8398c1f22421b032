"""Tabular classification data: the loader of CSV and ARFF files (features plus one label column).

This is the format of the UCI and OpenML files a user downloads, and the format the embedded default
data of the ``active`` track is written in (:mod:`harness.tracks.active.synth`), so one code path
reads both.

Layout of a dataset folder (``<root>``): one file per subset, named after it::

    <root>/iris.csv          header row, then one row per sample; numeric feature columns and a label column
    <root>/credit-g.arff     ARFF: numeric attributes and a nominal (or numeric) class attribute

Rules checked, each with its own error naming the file, the column and the row:

- every feature column is numeric (encode categorical features before benchmarking);
- no value is missing (empty cell, ``NA`` or ``?``); remove or impute such rows first;
- the label column exists (``label_column``; the error lists the columns present) and holds at least
  two classes. Labels may be numbers or strings; classes are numbered 0..n_classes-1 in sorted order.

Example:
    >>> table = load_table("iris.csv", label_column="label")  # doctest: +SKIP
    >>> table.features.shape, table.classes  # doctest: +SKIP
    ((150, 4), ('0', '1', '2'))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.errors import DataLayoutError, DataMissingError

__all__ = ["EXTENSIONS", "MISSING_MARKERS", "Table", "list_subsets", "load_subset", "load_table"]

#: File extensions the loader reads, in the order a subset's file is looked up.
EXTENSIONS = (".csv", ".arff")
#: Cell values read as missing, besides empty cells (``?`` is the UCI and ARFF marker).
MISSING_MARKERS = ("?", "NA", "NaN", "nan", "")


@dataclass(frozen=True)
class Table:
    """One classification table read from disk.

    Attributes:
        features: float64 array of shape (n_samples, n_features), in file order.
        labels: int64 array of shape (n_samples,), class numbers in 0..n_classes-1.
        classes: The label value of each class number, as text, sorted (numerically when every label is a number).
        feature_names: Name of each feature column.
        path: The file read.
    """

    features: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    path: str

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)


def list_subsets(root: Path) -> list[str]:
    """Return the subsets under ``root``: the stems of its ``.csv`` and ``.arff`` files, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted({p.stem for p in root.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS})


def load_subset(root: Path, subset: str, *, label_column: str = "label") -> Table:
    """Read subset ``subset`` of the dataset folder ``root`` (``<root>/<subset>.csv`` or ``.arff``).

    Raises:
        DataMissingError: No file of that subset; lists the subsets present.
    """
    root = Path(root).resolve()
    for extension in EXTENSIONS:
        path = root / f"{subset}{extension}"
        if path.is_file():
            return load_table(path, label_column=label_column)
    present = list_subsets(root)
    msg = (
        f"tabular dataset at {root}: no file {subset}.csv or {subset}.arff; subsets present: "
        f"{', '.join(present) or 'none'}. Put one file per subset in the folder, named <subset>.csv or <subset>.arff."
    )
    raise DataMissingError(msg)


def load_table(path: Path, *, label_column: str = "label") -> Table:
    r"""Read a CSV (header row, comma-separated) or ARFF file into features and integer labels.

    Args:
        path: The ``.csv`` or ``.arff`` file.
        label_column: Name of the column holding the class label.

    Returns:
        The :class:`Table`; rows keep the file's order.

    Raises:
        DataMissingError: The file does not exist.
        DataLayoutError: Unknown extension, unreadable file, unknown label column (the message lists the
            columns), a missing value or a non-numeric feature (the message names column and row), or fewer
            than two classes.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
        >>> _ = path.write_text("a,b,label\\n1,2,x\\n3,4,y\\n")
        >>> load_table(path).labels.tolist()
        [0, 1]
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        msg = f"tabular file {path} does not exist; pass the path of a .csv or .arff file."
        raise DataMissingError(msg)
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        msg = f"tabular file {path}: extension {path.suffix!r} is not read; use one of {', '.join(EXTENSIONS)}."
        raise DataLayoutError(msg)
    frame, first_line = (_read_csv(path), 2) if suffix == ".csv" else (_read_arff(path), 0)
    return _table_from_frame(frame, path, label_column=label_column, first_line=first_line)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, comment=None, skip_blank_lines=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"tabular file {path}: not a readable CSV file with a header row ({exc})."
        raise DataLayoutError(msg) from exc


def _read_arff(path: Path) -> pd.DataFrame:
    from scipy.io import arff

    try:
        data, _meta = arff.loadarff(path)
    except (ValueError, NotImplementedError, arff.ParseArffError) as exc:
        msg = f"tabular file {path}: not a readable ARFF file ({exc}); numeric and nominal attributes are supported."
        raise DataLayoutError(msg) from exc
    columns = {}
    for name in data.dtype.names:
        column = data[name]
        if column.dtype.kind == "S":
            columns[name] = [value.decode() for value in column]
        else:
            columns[name] = ["" if np.isnan(value) else repr(float(value)) for value in column]
    return pd.DataFrame(columns, dtype=str)


def _row_text(index: int, first_line: int) -> str:
    """Row ``index`` (0-based) as a user reads it: 1-based data row, and the file line for CSV."""
    return f"row {index + 1}" + (f" (line {index + first_line} of the file)" if first_line else "")


def _table_from_frame(frame: pd.DataFrame, path: Path, *, label_column: str, first_line: int) -> Table:
    frame = frame.rename(columns=lambda c: str(c).strip())
    columns = list(frame.columns)
    if label_column not in columns:
        msg = (
            f"tabular file {path}: label column {label_column!r} does not exist; columns: {', '.join(columns)}. "
            "Name the label column with --set label_column=NAME."
        )
        raise DataLayoutError(msg)
    if frame.empty:
        msg = f"tabular file {path}: no data rows below the header."
        raise DataLayoutError(msg)
    cells = frame.apply(lambda col: col.str.strip())
    missing = cells.isin(MISSING_MARKERS)
    if missing.to_numpy().any():
        row, col = np.argwhere(missing.to_numpy())[0]
        msg = (
            f"tabular file {path}: missing value in column {columns[col]!r} at {_row_text(int(row), first_line)} "
            f"(empty cell, NA or ?); remove or impute rows with missing values first."
        )
        raise DataLayoutError(msg)
    feature_names = [c for c in columns if c != label_column]
    if not feature_names:
        msg = f"tabular file {path}: no feature column besides the label column {label_column!r}."
        raise DataLayoutError(msg)
    features = np.empty((len(cells), len(feature_names)), dtype=np.float64)
    for j, name in enumerate(feature_names):
        numbers = pd.to_numeric(cells[name], errors="coerce")
        bad = numbers.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"tabular file {path}: feature column {name!r} at {_row_text(row, first_line)} holds "
                f"{cells[name].iloc[row]!r}, not a number; encode categorical features as numbers first."
            )
            raise DataLayoutError(msg)
        features[:, j] = numbers.to_numpy(dtype=np.float64)
    labels, classes = _encode_labels(cells[label_column].to_numpy(dtype=str))
    if len(classes) < 2:
        msg = f"tabular file {path}: label column {label_column!r} holds one class ({classes[0]!r}); need at least two."
        raise DataLayoutError(msg)
    return Table(features, labels, classes, tuple(feature_names), str(path))


def _encode_labels(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Number the distinct labels in sorted order (numeric order when every label is a number)."""
    unique = np.unique(values)
    numeric = pd.to_numeric(pd.Series(unique), errors="coerce")
    if not numeric.isna().any():
        unique = unique[np.argsort(numeric.to_numpy(), kind="stable")]
    lookup = {value: i for i, value in enumerate(unique)}
    labels = np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))
    return labels, tuple(str(u) for u in unique)
