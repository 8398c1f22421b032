r"""User-item interaction files: the loaders of MovieLens-100K, MovieLens-1M, Lastfm-2K and Amazon 5-core.

Each loader reads one official file into an :class:`Interactions` table, one row per line of the file,
in file order; user and item ids are re-numbered 0..n-1 in sorted order of the raw ids (numeric order
when every raw id is a number). Ratings and timestamps are kept as read; binarisation, deduplication,
the minimum history and the split are the track's business (:mod:`harness.tracks.fedrec.split`).

Formats (:data:`FORMATS`), and the file each subset folder holds:

- ``movielens_100k``: ``u.data``, tab-separated ``user item rating timestamp``, no header
  (Harper & Konstan 2015, https://grouplens.org/datasets/movielens/100k/).
- ``movielens_1m``: ``ratings.dat``, ``UserID::MovieID::Rating::Timestamp``, no header
  (https://grouplens.org/datasets/movielens/1m/).
- ``lastfm_2k``: ``user_artists.dat``, tab-separated ``userID artistID weight`` with a header row
  (HetRec 2011, https://grouplens.org/datasets/hetrec-2011/). The file records no time (its lines are
  sorted by artist id within each user): its table has ``has_time = False``, and no split may read the
  order of its lines as time (the fedrec track then holds out random items; the card states it).
- ``amazon_5core``: ``<category>.csv``, comma-separated ``user,item,rating,timestamp`` (the 5-core
  subsets of the Amazon review data, McAuley et al.; https://cseweb.ucsd.edu/~jmcauley/datasets.html),
  an optional header row naming the columns (``user``/``reviewerID``/``user_id``, ``item``/``asin``/
  ``parent_asin``/``item_id``, ``rating``/``overall``, ``timestamp``/``unixReviewTime``) in any order.

Every malformed line (wrong number of fields, an empty id, a rating or timestamp that is not a
number) raises :class:`~harness.data.errors.DataLayoutError` naming the file and the line number.
Blank lines are skipped.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "u.data"
    >>> _ = path.write_text("1\\t10\\t5\\t881250949\\n2\\t10\\t3\\t891717742\\n")
    >>> table = read_interactions(path, "movielens_100k")
    >>> table.n_users, table.n_items, table.user.tolist()
    (2, 1, [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.data.errors import DataLayoutError, DataMissingError

__all__ = [
    "FORMATS",
    "Interactions",
    "InteractionFormat",
    "list_amazon_5core",
    "list_lastfm_2k",
    "list_movielens_100k",
    "list_movielens_1m",
    "list_subsets",
    "load_amazon_5core",
    "load_lastfm_2k",
    "load_movielens_100k",
    "load_movielens_1m",
    "load_subset",
    "read_interactions",
    "subset_file",
]


@dataclass(frozen=True)
class InteractionFormat:
    """How one official interaction file is laid out.

    Attributes:
        file_name: Name of the file in a subset folder (``"*.csv"``: every CSV of the folder is a subset).
        separator: Field separator.
        header: ``"none"``, ``"always"`` or ``"optional"`` (a first line whose rating field is not a number).
        columns: Meaning of each field, in file order, when there is no header.
        title: Human-readable name, for messages.
    """

    file_name: str
    separator: str
    header: str
    columns: tuple[str, ...]
    title: str


#: The formats read, by card name.
FORMATS: dict[str, InteractionFormat] = {
    "amazon_5core": InteractionFormat("*.csv", ",", "optional", ("user", "item", "rating", "timestamp"),
                                      "Amazon review 5-core CSV"),
    "lastfm_2k": InteractionFormat("user_artists.dat", "\t", "always", ("user", "item", "rating"),
                                   "Lastfm-2K user_artists.dat"),
    "movielens_100k": InteractionFormat("u.data", "\t", "none", ("user", "item", "rating", "timestamp"),
                                        "MovieLens-100K u.data"),
    "movielens_1m": InteractionFormat("ratings.dat", "::", "none", ("user", "item", "rating", "timestamp"),
                                      "MovieLens-1M ratings.dat"),
}
#: Header names accepted for each column of a CSV with a header row.
HEADER_NAMES = {
    "user": ("user", "user_id", "userid", "reviewerid"),
    "item": ("item", "item_id", "itemid", "asin", "parent_asin", "artistid", "movieid"),
    "rating": ("rating", "overall", "weight", "score"),
    "timestamp": ("timestamp", "unixreviewtime", "time"),
}


@dataclass(frozen=True)
class Interactions:
    """The interactions of one file, one row per non-blank line, in file order.

    Attributes:
        user: int64 array of shape (n_rows,), user numbers in [0, n_users).
        item: int64 array of shape (n_rows,), item numbers in [0, n_items).
        rating: float64 array of shape (n_rows,), the rating (Lastfm: the play count).
        timestamp: int64 array of shape (n_rows,), seconds; the 1-based line number where the file has none
            (``has_time`` False: then it carries no information and nothing may order by it).
        line: int64 array of shape (n_rows,), the 1-based line number of each row (ties of time go by it).
        user_ids: str array of shape (n_users,), the raw id of each user number.
        item_ids: str array of shape (n_items,), the raw id of each item number.
        path: The file read.
        has_time: True when the format records when each interaction happened (a ``timestamp`` column of
            :data:`FORMATS`); False for Lastfm-2K's ``user_artists.dat``.
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    line: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    path: str
    has_time: bool = True

    @property
    def n_users(self) -> int:
        """Number of distinct users."""
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        """Number of distinct items."""
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.user)


def _format(name: str) -> InteractionFormat:
    if name not in FORMATS:
        msg = f"interaction format {name!r} is unknown; known formats: {', '.join(sorted(FORMATS))}."
        raise ValueError(msg)
    return FORMATS[name]


def _encode(raw: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Number raw ids 0..n-1 in sorted order (numeric when all are integers); return codes and the id table."""
    unique, inverse = np.unique(np.asarray(raw, dtype=str), return_inverse=True)
    try:
        numbers = unique.astype(np.int64)
    except ValueError:
        return inverse.astype(np.int64), unique
    order = np.argsort(numbers, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[inverse].astype(np.int64), unique[order]


def _header_columns(fields: list[str], fmt: InteractionFormat, path: Path) -> tuple[str, ...]:
    """Map a header row to column meanings; every required column must be named once."""
    columns = []
    for field in fields:
        key = field.strip().strip('"').lower()
        meaning = next((m for m, names in HEADER_NAMES.items() if key in names), "")
        columns.append(meaning)
    missing = [m for m in fmt.columns if m not in columns]
    if missing:
        msg = (
            f"{fmt.title} {path}: line 1 is a header row without a {missing[0]!r} column; got {fields}. "
            f"Name the columns {', '.join(fmt.columns)} (or leave the header out and keep that order)."
        )
        raise DataLayoutError(msg)
    return tuple(columns)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_interactions(path: Path, format_name: str) -> Interactions:
    """Read one interaction file of format ``format_name`` (a key of :data:`FORMATS`).

    Args:
        path: The file.
        format_name: ``movielens_100k``, ``movielens_1m``, ``lastfm_2k`` or ``amazon_5core``.

    Returns:
        The :class:`Interactions` of the file, rows in file order.

    Raises:
        DataMissingError: The file does not exist.
        DataLayoutError: The file is empty, or a line is malformed; the message names the file and the line.
    """
    fmt = _format(format_name)
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        msg = f"{fmt.title} file {path} does not exist; see the dataset card for where to get it and put it."
        raise DataMissingError(msg)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")  # MovieLens files predate UTF-8
    lines = text.splitlines()
    columns = fmt.columns
    first = 0
    if lines and fmt.header != "none":
        head = lines[0].split(fmt.separator)
        has_header = fmt.header == "always" or (len(head) > 2 and not _is_number(head[2].strip().strip('"')))
        if has_header:
            columns = _header_columns(head, fmt, path) if fmt.header == "optional" else fmt.columns
            first = 1
    n_fields = len(columns)
    position = {name: columns.index(name) for name in fmt.columns}
    raw: dict[str, list[str]] = {name: [] for name in fmt.columns}
    line_numbers = []
    for number, line in enumerate(lines[first:], start=first + 1):
        if not line.strip():
            continue
        fields = line.split(fmt.separator)
        if len(fields) != n_fields:
            msg = (
                f"{fmt.title} {path}: line {number} has {len(fields)} field(s), expected {n_fields} "
                f"({', '.join(columns)} separated by {fmt.separator!r}); got {line[:80]!r}. Fix or remove that line."
            )
            raise DataLayoutError(msg)
        for name in fmt.columns:
            raw[name].append(fields[position[name]].strip().strip('"'))
        line_numbers.append(number)
    if not line_numbers:
        msg = f"{fmt.title} {path}: no interaction lines; the file is empty or holds only a header."
        raise DataLayoutError(msg)
    for name in ("user", "item"):
        empty = [i for i, value in enumerate(raw[name]) if not value]
        if empty:
            msg = f"{fmt.title} {path}: line {line_numbers[empty[0]]} has an empty {name} id; fix or remove that line."
            raise DataLayoutError(msg)
    numbers = {name: _numeric_column(raw[name], name, line_numbers, fmt, path) for name in fmt.columns[2:]}
    line = np.asarray(line_numbers, dtype=np.int64)
    timestamp = numbers["timestamp"].astype(np.int64) if "timestamp" in numbers else line.copy()
    user, user_ids = _encode(raw["user"])
    item, item_ids = _encode(raw["item"])
    return Interactions(user, item, numbers["rating"], timestamp, line, user_ids, item_ids, str(path),
                        has_time="timestamp" in numbers)


def _numeric_column(
    values: list[str], name: str, line_numbers: list[int], fmt: InteractionFormat, path: Path
) -> np.ndarray:
    try:
        column = np.asarray(values, dtype=np.float64)
    except ValueError:
        column = None
    if column is not None and np.isfinite(column).all():
        return column
    for value, number in zip(values, line_numbers, strict=True):
        if not _is_number(value) or not np.isfinite(float(value)):
            msg = (
                f"{fmt.title} {path}: line {number} has {name} {value!r}, not a finite number; "
                "fix or remove that line."
            )
            raise DataLayoutError(msg)
    raise AssertionError  # pragma: no cover - unreachable: some value failed above


def subset_file(root: Path, subset: str, format_name: str) -> Path:
    """Return the file of ``subset`` under ``root`` for a format (see :func:`list_subsets`).

    Raises:
        DataMissingError: No such subset; lists the subsets present.
    """
    fmt = _format(format_name)
    root = Path(root).expanduser().resolve()
    if fmt.file_name == "*.csv":
        candidates = [root / f"{subset}.csv"]
    else:
        candidates = [root / subset / fmt.file_name]
        if subset == root.name:
            candidates.append(root / fmt.file_name)
    for path in candidates:
        if path.is_file():
            return path
    present = list_subsets(root, format_name)
    example = f"{root}/<category>.csv" if fmt.file_name == "*.csv" else f"{root}/{subset}/{fmt.file_name}"
    msg = (
        f"{fmt.title} at {root}: subset {subset!r} is not there; present: {', '.join(present) or 'none'}. "
        f"A subset is a file such as {example}."
    )
    raise DataMissingError(msg)


def list_subsets(root: Path, format_name: str) -> list[str]:
    """Return the subsets of format ``format_name`` under ``root``, sorted.

    A subset is a visible subfolder that holds the format's file (``ml-100k/u.data`` -> ``ml-100k``); a root
    that holds the file itself is one subset named after the root. For Amazon, every ``<name>.csv`` directly
    in ``root`` is subset ``<name>``.
    """
    fmt = _format(format_name)
    root = Path(root)
    if not root.is_dir():
        return []
    if fmt.file_name == "*.csv":
        return sorted(p.stem for p in root.glob("*.csv") if p.is_file() and not p.name.startswith("."))
    found = {
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / fmt.file_name).is_file()
    }
    if (root / fmt.file_name).is_file():
        found.add(root.resolve().name)
    return sorted(found)


def load_subset(root: Path, subset: str, format_name: str) -> Interactions:
    """Read subset ``subset`` of a dataset folder in format ``format_name``."""
    return read_interactions(subset_file(root, subset, format_name), format_name)


def load_movielens_100k(root: Path, subset: str) -> Interactions:
    """Read ``<root>/<subset>/u.data`` (MovieLens-100K layout; also the embedded synthetic default)."""
    return load_subset(root, subset, "movielens_100k")


def load_movielens_1m(root: Path, subset: str) -> Interactions:
    """Read ``<root>/<subset>/ratings.dat`` (MovieLens-1M layout)."""
    return load_subset(root, subset, "movielens_1m")


def load_lastfm_2k(root: Path, subset: str) -> Interactions:
    """Read ``<root>/<subset>/user_artists.dat`` (HetRec 2011 Lastfm-2K layout)."""
    return load_subset(root, subset, "lastfm_2k")


def load_amazon_5core(root: Path, subset: str) -> Interactions:
    """Read ``<root>/<subset>.csv`` (Amazon 5-core ratings CSV)."""
    return load_subset(root, subset, "amazon_5core")


def list_movielens_100k(root: Path) -> list[str]:
    """Subsets of a MovieLens-100K-layout folder (folders holding ``u.data``)."""
    return list_subsets(root, "movielens_100k")


def list_movielens_1m(root: Path) -> list[str]:
    """Subsets of a MovieLens-1M-layout folder (folders holding ``ratings.dat``)."""
    return list_subsets(root, "movielens_1m")


def list_lastfm_2k(root: Path) -> list[str]:
    """Subsets of a Lastfm-2K-layout folder (folders holding ``user_artists.dat``)."""
    return list_subsets(root, "lastfm_2k")


def list_amazon_5core(root: Path) -> list[str]:
    """Subsets of an Amazon 5-core folder (its ``.csv`` files)."""
    return list_subsets(root, "amazon_5core")
