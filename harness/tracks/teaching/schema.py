"""The tabular schema of the teaching track: items with feature groups (modalities) and continuous targets.

One table (Parquet or CSV) holds one row per item:

- an id column (unique, any type; ``id`` by default);
- feature columns, grouped by modality either through a prefix (``speech_f0_mean`` belongs to ``speech``: the
  text before the first ``_`` of every column that is neither the id, the group nor a target) or through a side
  file (CSV with the columns ``column`` and ``modality``; the columns it does not list are ignored);
- one or more continuous target columns (e.g. ``pleasure``, ``arousal`` and further style dimensions);
- optionally a group column (teacher, speaker, subject, song) that every split keeps whole.

Missing feature values are allowed (NaN or an empty CSV cell): a modality missing for an item is all NaN in its
columns. :func:`load_table` reports per modality the share of items that lack it entirely and the share of
missing cells. A target with a missing value, a constant target, a feature column that is not numeric, a
duplicated id, or a modality with no columns is an error naming it.

Example:
    >>> table = load_table("classes.parquet", targets=("pleasure", "arousal"), group="teacher")  # doctest: +SKIP
    >>> table.modalities, table.features["speech"].shape  # doctest: +SKIP
    (('face', 'motion', 'speech', 'text'), (1000, 24))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.errors import DataLayoutError, DataMissingError

__all__ = [
    "SCHEMA_FILE",
    "MultimodalTable",
    "check_split",
    "grouped_folds",
    "load_described",
    "load_table",
    "modality_columns",
    "read_frame",
    "table_from_frame",
]

#: The description of a table folder: which file, which columns are the id, the group and the targets.
SCHEMA_FILE = "schema.json"
_SCHEMA_KEYS = {"file", "targets", "id", "group", "modality_file", "modalities"}


@dataclass(frozen=True)
class MultimodalTable:
    """A table in the schema, read and checked.

    Attributes:
        ids: Item ids, shape (n,), in file order.
        features: modality -> float64 array (n, d_m); NaN where a value is missing.
        columns: modality -> the column names of its features, in file order.
        targets: float64 array (n, n_targets).
        target_names: Name of each target column.
        groups: Group of each item (shape (n,)), or None when the table has no group column.
        missing: modality -> ``{"items": share of items without any value of it, "cells": share of missing cells}``.
        source: The file read.
    """

    ids: np.ndarray
    features: Mapping[str, np.ndarray]
    columns: Mapping[str, tuple[str, ...]]
    targets: np.ndarray
    target_names: tuple[str, ...]
    groups: np.ndarray | None
    missing: Mapping[str, Mapping[str, float]]
    source: str

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities, sorted."""
        return tuple(sorted(self.features))

    def take(self, rows: np.ndarray) -> MultimodalTable:
        """The items at ``rows`` (int array), every field alike; the missing shares are recomputed."""
        features = {m: f[rows] for m, f in self.features.items()}
        return MultimodalTable(
            self.ids[rows], features, self.columns, self.targets[rows], self.target_names,
            None if self.groups is None else self.groups[rows], _missing(features), self.source,
        )


def read_frame(path: str | Path) -> pd.DataFrame:
    """Read a Parquet (``.parquet``, ``.pq``) or CSV (any other suffix) file into a DataFrame.

    Raises:
        DataMissingError: The file does not exist.
        DataLayoutError: It cannot be parsed; names the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"table {path} does not exist; point the card (or --data-root) at the folder that holds it."
        raise DataMissingError(msg)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:
        kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "CSV"
        msg = f"table {path} cannot be read as {kind}: {exc}"
        raise DataLayoutError(msg) from exc


def modality_columns(
    frame: pd.DataFrame, *, exclude: Sequence[str], modality_file: str | Path | None = None,
    modalities: Sequence[str] | None = None, where: str = "table",
) -> dict[str, tuple[str, ...]]:
    """Modality -> its feature columns, from the column prefixes or a side file.

    Args:
        frame: The table.
        exclude: Columns that are no features (id, group, targets).
        modality_file: Optional CSV with columns ``column`` and ``modality``.
        modalities: Optional modalities to keep (and to require: each must have a column).
        where: The table's name, for messages.

    Raises:
        DataLayoutError: A column has no prefix, the side file names an absent column or lacks its columns, or
            a requested modality has no column.
    """
    candidates = [c for c in frame.columns if c not in set(exclude)]
    out: dict[str, list[str]] = {}
    if modality_file is not None:
        side = read_frame(modality_file)
        if not {"column", "modality"} <= set(side.columns):
            msg = (f"modality file {modality_file} needs the columns 'column' and 'modality'; "
                   f"it has {list(side.columns)}.")
            raise DataLayoutError(msg)
        for column, modality in zip(side["column"].astype(str), side["modality"].astype(str), strict=True):
            if column not in frame.columns:
                msg = f"modality file {modality_file} lists column {column!r}, which {where} does not have."
                raise DataLayoutError(msg)
            out.setdefault(modality, []).append(column)
    else:
        for column in candidates:
            prefix, sep, rest = str(column).partition("_")
            if not sep or not prefix or not rest:
                msg = (f"{where}: column {column!r} has no modality prefix ('<modality>_<name>'); rename it, list it "
                       "in a modality file, or declare it as the id, group or a target.")
                raise DataLayoutError(msg)
            out.setdefault(prefix, []).append(column)
    if modalities is not None:
        for modality in modalities:
            if not out.get(modality):
                found = ", ".join(sorted(out)) or "none"
                msg = f"{where}: feature group {modality!r} has no columns (groups found: {found})."
                raise DataLayoutError(msg)
        out = {m: out[m] for m in modalities}
    if not out:
        msg = f"{where}: no feature columns besides the id, group and targets."
        raise DataLayoutError(msg)
    return {m: tuple(c) for m, c in sorted(out.items())}


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (for messages: ``13``, not ``np.int64(13)``)."""
    return value.item() if isinstance(value, np.generic) else value


def _missing(features: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    out = {}
    for modality, values in features.items():
        nan = np.isnan(values)
        out[modality] = {"items": float(nan.all(axis=1).mean()) if len(values) else 0.0,
                         "cells": float(nan.mean()) if values.size else 0.0}
    return out


def load_table(
    path: str | Path, *, targets: Sequence[str], id_column: str = "id", group: str | None = None,
    modality_file: str | Path | None = None, modalities: Sequence[str] | None = None,
) -> MultimodalTable:
    """Read and check one table of the schema.

    Args:
        path: The Parquet or CSV file.
        targets: The continuous target columns.
        id_column: The id column.
        group: The group column, or None.
        modality_file: Optional side file mapping columns to modalities (else: column prefixes).
        modalities: Optional modalities to keep, each required to have a column.

    Raises:
        DataMissingError: The file does not exist.
        DataLayoutError: A column is missing, an id is duplicated, a target has a missing value or is constant, a
            feature column is not numeric, or a modality has no column; the message names it.
    """
    return table_from_frame(read_frame(path), targets=targets, id_column=id_column, group=group,
                            modality_file=modality_file, modalities=modalities, where=str(path))


def table_from_frame(
    frame: pd.DataFrame, *, targets: Sequence[str], id_column: str = "id", group: str | None = None,
    modality_file: str | Path | None = None, modalities: Sequence[str] | None = None, where: str = "table",
) -> MultimodalTable:
    """Check a DataFrame in the schema and turn it into a :class:`MultimodalTable`.

    :func:`load_table` calls it after reading the file; loaders of other layouts build the frame and call it.

    Args:
        frame: One row per item.
        targets: The continuous target columns.
        id_column: The id column.
        group: The group column, or None.
        modality_file: Optional side file mapping columns to modalities (else: column prefixes).
        modalities: Optional modalities to keep, each required to have a column.
        where: The table's name in messages (its file, or the layout it came from).

    Raises:
        DataLayoutError: As :func:`load_table`.
    """
    needed = [id_column, *targets, *([group] if group else [])]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        msg = f"{where}: column {absent[0]!r} is missing; the table has {list(frame.columns)[:12]}."
        raise DataLayoutError(msg)
    if not targets:
        msg = f"{where}: at least one target column is needed."
        raise DataLayoutError(msg)
    ids = frame[id_column].to_numpy()
    duplicated = frame[id_column].duplicated()
    if duplicated.any():
        first = _plain(frame[id_column][duplicated].iloc[0])
        msg = f"{where}: id {first!r} appears more than once in column {id_column!r}."
        raise DataLayoutError(msg)
    values = np.zeros((len(frame), len(targets)))
    for j, name in enumerate(targets):
        column = pd.to_numeric(frame[name], errors="coerce")
        bad = column.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (f"{where}: target {name!r} has a missing or non-numeric value at id {_plain(ids[row])!r} "
                   f"({int(bad.sum())} rows in all); targets must be complete.")
            raise DataLayoutError(msg)
        if column.nunique() < 2:
            value = _plain(column.iloc[0])
            msg = f"{where}: target {name!r} is constant ({value!r} for every item); it cannot be scored."
            raise DataLayoutError(msg)
        values[:, j] = column.to_numpy(dtype=np.float64)
    groups = None
    if group:
        if frame[group].isna().any():
            row = int(np.flatnonzero(frame[group].isna().to_numpy())[0])
            msg = f"{where}: group column {group!r} is empty at id {_plain(ids[row])!r}."
            raise DataLayoutError(msg)
        groups = frame[group].to_numpy()
    columns = modality_columns(frame, exclude=needed, modality_file=modality_file, modalities=modalities,
                               where=where)
    features = {}
    for modality, names in columns.items():
        block = frame[list(names)]
        not_numeric = [c for c in names if not pd.api.types.is_numeric_dtype(block[c])]
        if not_numeric:
            msg = (f"{where}: feature column {not_numeric[0]!r} of modality {modality!r} is not numeric "
                   f"(dtype {block[not_numeric[0]].dtype}).")
            raise DataLayoutError(msg)
        features[modality] = block.to_numpy(dtype=np.float64)
    return MultimodalTable(ids, features, columns, values, tuple(targets), groups, _missing(features), where)


def load_described(root: str | Path) -> MultimodalTable:
    """Read the table a folder describes in its ``schema.json`` (the loader of your own tables and of the default).

    ``schema.json`` holds ``file`` (the table, relative to the folder) and ``targets`` (list of columns), and
    optionally ``id`` (default ``"id"``), ``group``, ``modality_file`` (relative path of the side file) and
    ``modalities`` (the feature groups to keep). Example::

        {"file": "classes.csv", "id": "id", "group": "teacher", "targets": ["pleasure", "arousal"]}

    Raises:
        DataMissingError: The folder has no ``schema.json``, or the table it names does not exist.
        DataLayoutError: ``schema.json`` is not valid JSON, has an unknown key or lacks ``file`` or ``targets``;
            or the table breaks the schema (see :func:`load_table`).
    """
    import json

    root = Path(root)
    path = root / SCHEMA_FILE
    if not path.is_file():
        msg = (f"{root} has no {SCHEMA_FILE}; write one next to the table, e.g. "
               '{"file": "table.csv", "id": "id", "group": "speaker", "targets": ["valence", "arousal"]}.')
        raise DataMissingError(msg)
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        msg = f"{path} is not valid JSON: {exc}"
        raise DataLayoutError(msg) from exc
    if not isinstance(spec, dict):
        msg = f"{path} must hold a JSON object; got {type(spec).__name__}."
        raise DataLayoutError(msg)
    unknown = sorted(set(spec) - _SCHEMA_KEYS)
    if unknown:
        msg = f"{path}: key {unknown[0]!r} is not allowed; allowed keys: {', '.join(sorted(_SCHEMA_KEYS))}."
        raise DataLayoutError(msg)
    for key in ("file", "targets"):
        if not spec.get(key):
            msg = f"{path}: required key {key!r} is missing or empty."
            raise DataLayoutError(msg)
    targets = [spec["targets"]] if isinstance(spec["targets"], str) else list(spec["targets"])
    side = root / spec["modality_file"] if spec.get("modality_file") else None
    return load_table(root / spec["file"], targets=targets, id_column=spec.get("id", "id"), group=spec.get("group"),
                      modality_file=side, modalities=spec.get("modalities"))


def grouped_folds(n_items: int, groups: np.ndarray | None, *, n_folds: int, seed: int) -> np.ndarray:
    """Fold of every item (int64 (n,), in ``[0, n_folds)``): whole groups per fold, seeded.

    scikit-learn's :class:`~sklearn.model_selection.GroupKFold` (shuffled) when there are groups, else its
    :class:`~sklearn.model_selection.KFold`; the same ``seed`` gives the same folds to every method.

    Raises:
        DataLayoutError: Fewer groups (or items) than folds.
    """
    from sklearn.model_selection import GroupKFold, KFold

    fold = np.full(n_items, -1, dtype=np.int64)
    if groups is None:
        if n_items < n_folds:
            msg = f"{n_folds}-fold cross-validation needs at least {n_folds} items; the table has {n_items}."
            raise DataLayoutError(msg)
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(n_items))
    else:
        n_groups = len(pd.unique(groups))
        if n_groups < n_folds:
            msg = f"{n_folds}-fold cross-validation by group needs at least {n_folds} groups; the table has {n_groups}."
            raise DataLayoutError(msg)
        splitter = GroupKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(
            np.zeros(n_items), groups=groups)
    for k, (_, test) in enumerate(splitter):
        fold[test] = k
    return fold


def check_split(groups: np.ndarray | None, train: np.ndarray, test: np.ndarray) -> None:
    """Raise :class:`DataLayoutError` naming a group that has items on both sides of a split."""
    if groups is None:
        return
    shared = set(pd.unique(groups[train])) & set(pd.unique(groups[test]))
    if shared:
        first = sorted(map(str, shared))[0]
        msg = f"group {first!r} has items in both the training and the test part ({len(shared)} such groups)."
        raise DataLayoutError(msg)
