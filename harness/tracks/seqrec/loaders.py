"""Readers of the seqrec track's official layouts: Amazon reviews (2018 and 2023 JSON lines) and MovieLens.

Every loader returns a :class:`RawLog`: for each domain the events (raw user id, raw item id, unix seconds) in
file order and every item's title; the protocol (:mod:`harness.tracks.seqrec.split`) filters, numbers and splits
them. Each lister returns the dataset's domains (the track's subsets) when the folder holds the dataset, else
an empty list.

Layouts:

- Amazon review data 2018 (Ni, Li and McAuley, EMNLP 2019): ``<Category>.json`` or the 5-core
  ``<Category>_5.json``, one JSON object per line with ``reviewerID``, ``asin`` and ``unixReviewTime`` (seconds),
  and ``meta_<Category>.json`` with ``asin`` and ``title``. The 2014 files (``reviews_<Category>_5.json``, meta
  lines written as Python literals) read too.
- Amazon Reviews 2023 (Hou et al., 2024): ``<Category>.jsonl`` with ``user_id``, ``parent_asin`` (else ``asin``) and
  ``timestamp`` (milliseconds), and ``meta_<Category>.jsonl`` with ``parent_asin`` and ``title``.
  Any of these files may be gzip-compressed (``.gz``). Several categories in one folder are the domains, joined by
  user id.
- MovieLens-1M (``ml-1m/ratings.dat``, ``UserID::MovieID::Rating::Timestamp``, and ``ml-1m/movies.dat``,
  ``MovieID::Title::Genres``, Latin-1) and MovieLens-100K (``ml-100k/u.data``, tab-separated, and
  ``ml-100k/u.item``, ``|``-separated, Latin-1): one domain each.

Malformed lines (not JSON, a missing field, a time that is not a number) are skipped and counted, with the first
line number, in :attr:`RawDomain.report`; so are events of items the metadata does not know (no title). A file
without any valid line, or a category without its metadata file, is an error that names the file.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import DataLayoutError

__all__ = [
    "RawDomain",
    "RawLog",
    "amazon_domains",
    "list_amazon",
    "list_movielens_100k",
    "list_movielens_1m",
    "load_amazon",
    "load_movielens_100k",
    "load_movielens_1m",
]

_REVIEW_SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")
#: (user key, item keys in order of preference, time key, time unit in seconds) of each Amazon edition.
_AMAZON_FIELDS = (
    ("reviewerID", ("asin",), "unixReviewTime", 1),
    ("user_id", ("parent_asin", "asin"), "timestamp", 1000),
)


@dataclass
class RawDomain:
    """The events of one domain, in file order, and the titles of its items.

    Attributes:
        name: The domain (Amazon category, or ``ml-1m`` / ``ml-100k``).
        users: str array of shape (n_events,), raw user ids.
        items: str array of shape (n_events,), raw item ids.
        times: int64 array of shape (n_events,), unix seconds.
        titles: raw item id -> title.
        report: What the reader skipped: ``malformed_lines``, ``first_malformed_line``, ``unknown_items`` (events
            of items without metadata), and the files read.
    """

    name: str
    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    titles: dict[str, str]
    report: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class RawLog:
    """Every domain of a dataset, by name, in sorted order."""

    domains: dict[str, RawDomain]

    @property
    def names(self) -> list[str]:
        """The domains."""
        return list(self.domains)


def _open_text(path: Path, encoding: str = "utf-8") -> Any:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, errors="replace")
    return open(path, encoding=encoding, errors="replace")  # noqa: SIM115 - closed by the caller's with


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, parsed object or None when malformed) of every non-blank line; Python literals accepted."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                try:
                    obj = ast.literal_eval(text)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    obj = None
            yield number, obj if isinstance(obj, dict) else None


def _category(path: Path) -> str:
    name = path.name
    for suffix in sorted(_REVIEW_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = name.removeprefix("reviews_")
    return re.sub(r"_5$", "", name)


def amazon_domains(root: str | Path) -> dict[str, tuple[Path, Path | None]]:
    """Category -> (review file, metadata file or None) of every Amazon review file directly in ``root``.

    Example:
        >>> amazon_domains("/nonexistent")
        {}
    """
    root = Path(root)
    if not root.is_dir():
        return {}
    found: dict[str, tuple[Path, Path | None]] = {}
    files = sorted(p for p in root.iterdir() if p.is_file() and p.name.endswith(_REVIEW_SUFFIXES))
    for path in files:
        if path.name.startswith("meta_"):
            continue
        category = _category(path)
        meta = next((m for m in files if m.name.startswith("meta_") and _category(m).removeprefix("meta_") ==
                     category), None)
        if category in found:
            msg = (f"{root}: two review files for category {category!r} ({found[category][0].name}, {path.name}); "
                   "keep one (the 5-core or the full file).")
            raise DataLayoutError(msg)
        found[category] = (path, meta)
    return found


def _read_titles(path: Path) -> dict[str, str]:
    titles: dict[str, str] = {}
    for _, obj in _records(path):
        if obj is None:
            continue
        item = obj.get("parent_asin") or obj.get("asin")
        title = obj.get("title")
        if isinstance(item, str) and isinstance(title, str) and title.strip():
            titles.setdefault(item, " ".join(title.split()))
    return titles


def _read_amazon_reviews(path: Path) -> tuple[list[str], list[str], list[int], dict[str, Any]]:
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    malformed, first_bad = 0, 0
    for number, obj in _records(path):
        event = None
        if obj is not None:
            for user_key, item_keys, time_key, unit in _AMAZON_FIELDS:
                if user_key in obj:
                    item = next((obj[k] for k in item_keys if isinstance(obj.get(k), str)), None)
                    stamp = obj.get(time_key)
                    if isinstance(obj[user_key], str) and item and isinstance(stamp, (int, float, str)):
                        try:
                            event = (obj[user_key], item, int(float(stamp)) // unit)
                        except ValueError:
                            event = None
                    break
        if event is None:
            malformed += 1
            first_bad = first_bad or number
            continue
        users.append(event[0])
        items.append(event[1])
        times.append(event[2])
    return users, items, times, {"malformed_lines": malformed, "first_malformed_line": first_bad}


def load_amazon(root: str | Path, subset: str | None = None) -> RawLog:
    """Read every category in ``root`` (see the module docstring); ``subset`` is ignored (all domains are read).

    Raises:
        DataLayoutError: No review file; a category without its ``meta_`` file; a file without a valid line; no
            item of a category has a title.
    """
    root = Path(root)
    found = amazon_domains(root)
    if not found:
        msg = (f"{root}: no Amazon review file (<Category>.json, <Category>_5.json, <Category>.jsonl, optionally "
               ".gz). Place the review and meta_<Category> files of each category there.")
        raise DataLayoutError(msg)
    domains: dict[str, RawDomain] = {}
    for category, (path, meta) in sorted(found.items()):
        if meta is None:
            msg = (f"{path}: category {category!r} has no metadata file (meta_{category}.json or .jsonl, optionally "
                   ".gz) beside it; the LM recommenders need item titles. Download it with the reviews.")
            raise DataLayoutError(msg)
        users, items, times, report = _read_amazon_reviews(path)
        if not users:
            msg = (f"{path}: no valid review line ({report['malformed_lines']} malformed); expected JSON objects with "
                   "reviewerID, asin, unixReviewTime (2018) or user_id, parent_asin, timestamp (2023).")
            raise DataLayoutError(msg)
        titles = _read_titles(meta)
        if not titles:
            msg = f"{meta}: no line with an item id (asin or parent_asin) and a title."
            raise DataLayoutError(msg)
        known = np.array([item in titles for item in items], dtype=bool)
        report.update(unknown_items=int((~known).sum()), files=[path.name, meta.name])
        domains[category] = RawDomain(
            category, np.asarray(users, dtype=str)[known], np.asarray(items, dtype=str)[known],
            np.asarray(times, dtype=np.int64)[known], titles, report)
    return RawLog(domains)


def list_amazon(root: str | Path) -> list[str]:
    """The categories of the Amazon review files in ``root`` (sorted), or [] when there are none."""
    try:
        return sorted(amazon_domains(root))
    except DataLayoutError:
        return []


def _read_delimited(path: Path, sep: str, n_fields: int, encoding: str) -> tuple[list[list[str]], int, int]:
    rows, malformed, first_bad = [], 0, 0
    with _open_text(path, encoding) as handle:
        for number, line in enumerate(handle, start=1):
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            parts = text.split(sep)
            if len(parts) < n_fields:
                malformed += 1
                first_bad = first_bad or number
                continue
            rows.append(parts)
    return rows, malformed, first_bad


def _load_movielens(root: Path, name: str, ratings: str, movies: str, sep: tuple[str, str]) -> RawLog:
    folder = Path(root) / name
    rating_path, movie_path = folder / ratings, folder / movies
    for path in (rating_path, movie_path):
        if not path.is_file():
            msg = (f"{path} is missing: unzip the official {name}.zip into {Path(root)} so that {name}/{ratings} and "
                   f"{name}/{movies} exist.")
            raise DataLayoutError(msg)
    rows, malformed, first_bad = _read_delimited(rating_path, sep[0], 4, "latin-1")
    users, items, times = [], [], []
    for parts in rows:
        if not parts[3].strip().lstrip("-").isdigit():
            malformed += 1
            continue
        users.append(parts[0].strip())
        items.append(parts[1].strip())
        times.append(int(parts[3]))
    if not users:
        msg = f"{rating_path}: no valid line (user{sep[0]}item{sep[0]}rating{sep[0]}timestamp expected)."
        raise DataLayoutError(msg)
    movie_rows, _, _ = _read_delimited(movie_path, sep[1], 2, "latin-1")
    titles = {parts[0].strip(): parts[1].strip() for parts in movie_rows if parts[1].strip()}
    known = np.array([item in titles for item in items], dtype=bool)
    report = {"malformed_lines": malformed, "first_malformed_line": first_bad, "unknown_items": int((~known).sum()),
              "files": [f"{name}/{ratings}", f"{name}/{movies}"]}
    domain = RawDomain(name, np.asarray(users, dtype=str)[known], np.asarray(items, dtype=str)[known],
                       np.asarray(times, dtype=np.int64)[known], titles, report)
    return RawLog({name: domain})


def load_movielens_1m(root: str | Path, subset: str | None = None) -> RawLog:
    """MovieLens-1M's ``ml-1m/ratings.dat`` and ``ml-1m/movies.dat`` as one domain, ``ml-1m``."""
    return _load_movielens(Path(root), "ml-1m", "ratings.dat", "movies.dat", ("::", "::"))


def load_movielens_100k(root: str | Path, subset: str | None = None) -> RawLog:
    """MovieLens-100K's ``ml-100k/u.data`` and ``ml-100k/u.item`` as one domain, ``ml-100k``."""
    return _load_movielens(Path(root), "ml-100k", "u.data", "u.item", ("\t", "|"))


def list_movielens_1m(root: str | Path) -> list[str]:
    """``["ml-1m"]`` when ``root/ml-1m/ratings.dat`` exists."""
    return ["ml-1m"] if (Path(root) / "ml-1m" / "ratings.dat").is_file() else []


def list_movielens_100k(root: str | Path) -> list[str]:
    """``["ml-100k"]`` when ``root/ml-100k/u.data`` exists."""
    return ["ml-100k"] if (Path(root) / "ml-100k" / "u.data").is_file() else []
