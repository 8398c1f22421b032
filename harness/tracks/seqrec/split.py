"""The protocol of the ``seqrec`` track: k-core, chronological leave-one-out per user and domain, fixed negatives.

From a :class:`~harness.tracks.seqrec.loaders.RawLog`, :func:`make_split` does, in each domain:

1. keeps the first event of a repeated (user, item) pair (counted);
2. applies the k-core filter (``min_interactions``, a budget field; 5 in every preset): users and items with
   fewer than k events are dropped, again and again, until every one left has at least k (counted);
3. orders each user's events by time (ties by line of the file);
4. numbers the domain's items ``0 .. n_items - 1`` in sorted order of their raw ids, and the users of the whole
   dataset (every domain) ``0 .. n_users - 1`` in sorted order of their raw ids;
5. holds out each user's last item (test) and second-last item (validation); the rest is the training sequence;
6. draws 100 items the user never touched in the domain as the fixed negatives of the sampled ranking, from a
   generator seeded by :data:`SPLIT_SEED` and a CRC-32 of the user's raw id (independent of the file's order);
   a user of a domain with fewer than 100 such items is dropped from that domain (counted).

:func:`ensure_split` writes the result once into the cache of derived files (:mod:`harness.cache`), never into the
dataset folder: ``<cache>/seqrec/<dataset>/all/v<PROTOCOL_VERSION>-<key>/`` with one ``<domain>.npz`` per domain,
``titles.json`` and ``summary.json``; ``<key>`` hashes the folder's fingerprint, the content of its files, the
loader and ``min_interactions``. Where the cache cannot be written, :func:`load_split` computes the split in
memory (the same arrays) and says so in the log.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.tracks.seqrec.contract import DomainSequences

__all__ = ["N_NEGATIVES", "PROTOCOL_VERSION", "DomainSplit", "Split", "ensure_split", "load_split", "make_split"]

#: Version of the split protocol (part of the cache key).
PROTOCOL_VERSION = "1"
#: Fixed negatives per user of the sampled ranking.
N_NEGATIVES = 100
#: Seed of the negatives (with each user's raw id).
SPLIT_SEED = 20250411
_TRACK = "seqrec"


@dataclass
class DomainSplit(DomainSequences):
    """One domain after the protocol: every kept user's full sequence (training, validation, test item last).

    The fields of :class:`~harness.tracks.seqrec.contract.DomainSequences` (``users`` are global ids, sorted;
    ``items`` hold each user's whole sequence, the test item last and the validation item second last), and:

    Attributes:
        negatives: int64 (n_users, 100), the fixed negatives of the sampled ranking.
    """

    negatives: np.ndarray


@dataclass
class Split:
    """Every domain's split and the counts of the protocol."""

    domains: dict[str, DomainSplit]
    n_users: int
    summary: dict[str, Any]


def _kcore(users: np.ndarray, items: np.ndarray, k: int) -> np.ndarray:
    """Mask of the events that survive the iterated k-core filter on users and items."""
    keep = np.ones(len(users), dtype=bool)
    while True:
        _, u_inv, u_count = np.unique(users[keep], return_inverse=True, return_counts=True)
        _, i_inv, i_count = np.unique(items[keep], return_inverse=True, return_counts=True)
        ok = (u_count[u_inv] >= k) & (i_count[i_inv] >= k)
        if ok.all():
            return keep
        idx = np.flatnonzero(keep)
        keep[idx[~ok]] = False
        if not keep.any():
            return keep


def _negatives(raw_user: str, n_items: int, owned: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng([SPLIT_SEED, zlib.crc32(raw_user.encode())])
    free = np.setdiff1d(np.arange(n_items), owned, assume_unique=False)
    return np.sort(rng.choice(free, size=N_NEGATIVES, replace=False)).astype(np.int64)


def make_split(log: Any, min_interactions: int = 5) -> Split:
    """Apply the protocol (module docstring) to a :class:`~harness.tracks.seqrec.loaders.RawLog`.

    Args:
        log: Every domain's raw events.
        min_interactions: k of the k-core filter (at least 3, so that a user keeps a training item).

    Raises:
        ValueError: ``min_interactions`` below 3, or no event of any domain survives the filter.
    """
    if min_interactions < 3:
        msg = f"min_interactions must be at least 3 (a training, a validation and a test item); got {min_interactions}."
        raise ValueError(msg)
    kept: dict[str, tuple] = {}
    summary: dict[str, Any] = {"min_interactions": min_interactions, "protocol_version": PROTOCOL_VERSION,
                               "domains": {}}
    for name, raw in log.domains.items():
        order = np.lexsort((np.arange(len(raw)), raw.times, raw.users))  # user, then time, then line
        users, items, times = raw.users[order], raw.items[order], raw.times[order]
        pair = np.char.add(np.char.add(users, "\x00"), items)
        _, first = np.unique(pair, return_index=True)
        dedup = np.zeros(len(users), dtype=bool)
        dedup[first] = True
        core = np.zeros(len(users), dtype=bool)
        core[dedup] = _kcore(users[dedup], items[dedup], min_interactions)
        kept[name] = (users[core], items[core], times[core], raw)
        summary["domains"][name] = {
            "events_read": len(raw), "users_read": len(np.unique(raw.users)), "items_read": len(np.unique(raw.items)),
            "repeats_dropped": int((~dedup).sum()), "events_dropped_kcore": int((dedup & ~core).sum()),
            **{k: v for k, v in raw.report.items() if k != "files"},
        }
    all_users = np.unique(np.concatenate([k[0] for k in kept.values()])) if kept else np.array([], dtype=str)
    if not len(all_users):
        msg = f"no event survives the {min_interactions}-core filter in any domain; lower min_interactions."
        raise ValueError(msg)
    domains = {}
    for name, (users, items, times, raw) in kept.items():
        item_ids = np.unique(items)
        local = np.searchsorted(item_ids, items)
        uniq, starts = np.unique(users, return_index=True)
        bounds = np.append(starts, len(users))
        rows, negs, seqs, stamps = [], [], [], []
        dropped_room = 0
        for j, raw_user in enumerate(uniq):
            seq = local[bounds[j]:bounds[j + 1]]
            if len(item_ids) - len(seq) < N_NEGATIVES:
                dropped_room += 1
                continue
            rows.append(j)
            negs.append(_negatives(str(raw_user), len(item_ids), seq))
            seqs.append(seq)
            stamps.append(times[bounds[j]:bounds[j + 1]])
        gids = np.searchsorted(all_users, uniq[rows]).astype(np.int64)
        indptr = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
        titles = tuple(raw.titles[str(i)] for i in item_ids)
        domains[name] = DomainSplit(
            name, titles, gids, indptr,
            np.concatenate(seqs).astype(np.int64) if seqs else np.zeros(0, np.int64),
            np.concatenate(stamps).astype(np.int64) if stamps else np.zeros(0, np.int64),
            np.stack(negs) if negs else np.zeros((0, N_NEGATIVES), np.int64))
        summary["domains"][name].update(users=len(gids), items=len(item_ids), events=int(indptr[-1]),
                                        users_dropped_no_room=dropped_room)
    summary["n_users"] = len(all_users)
    return Split(domains, len(all_users), summary)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))


def split_folder(root: Path, dataset: str, *, loader: str, min_interactions: int,
                 cache_root: Path | None = None) -> Path:
    """The cache folder of a dataset's split (not created; see :func:`harness.cache.derived_folder`)."""
    from harness.cache import content_digest, derived_folder
    from harness.cards import dataset_fingerprint

    extra = {"sources": content_digest(_files(root), root=root), "loader": loader, "k": min_interactions}
    return derived_folder(_TRACK, dataset, "all", fingerprint=dataset_fingerprint(root), version=PROTOCOL_VERSION,
                          extra=extra, cache_root=cache_root)


def _write(split: Split, folder: Path) -> None:
    from harness.cache import write_folder

    def fill(tmp: Path) -> None:
        for name, d in split.domains.items():
            np.savez(tmp / f"{name}.npz", users=d.users, indptr=d.indptr, items=d.items, times=d.times,
                     negatives=d.negatives)
        (tmp / "titles.json").write_text(json.dumps({n: list(d.titles) for n, d in split.domains.items()}))
        (tmp / "summary.json").write_text(json.dumps(split.summary, indent=1, sort_keys=True) + "\n")

    write_folder(folder, fill)


def _read(folder: Path) -> Split:
    summary = json.loads((folder / "summary.json").read_text())
    titles = json.loads((folder / "titles.json").read_text())
    domains = {}
    for name in summary["domains"]:
        with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
            domains[name] = DomainSplit(name, tuple(titles[name]), z["users"], z["indptr"], z["items"], z["times"],
                                        z["negatives"])
    return Split(domains, summary["n_users"], summary)


def _compute(root: Path, loader: str, min_interactions: int) -> Split:
    from harness.registry import load_target

    return make_split(load_target(loader)(root), min_interactions)


def ensure_split(root: Path, dataset: str, *, loader: str, min_interactions: int,
                 cache_root: Path | None = None) -> Path:
    """Return the cache folder of the dataset's split, writing it first when it is not there.

    Raises:
        OSError: The cache cannot be written.
    """
    folder = split_folder(root, dataset, loader=loader, min_interactions=min_interactions, cache_root=cache_root)
    if not (folder / "summary.json").is_file():
        _write(_compute(root, loader, min_interactions), folder)
    return folder


def load_split(root: Path, dataset: str, *, loader: str, min_interactions: int,
               cache_root: Path | None = None) -> Split:
    """The dataset's split: read from the cache, written there first when missing, computed here if it cannot be."""
    folder = split_folder(root, dataset, loader=loader, min_interactions=min_interactions, cache_root=cache_root)
    if (folder / "summary.json").is_file():
        return _read(folder)
    split = _compute(root, loader, min_interactions)
    try:
        _write(split, folder)
    except OSError as exc:
        logging.getLogger("parbench.job").warning(
            "%s: the split cannot be stored in the cache of derived files (%s); computed in this process. Pass a "
            "writable --cache (or $PARBENCH_CACHE) to compute it once.", dataset, exc)
    return split
