"""The split protocol of the ``fedrec`` track (PFedRec, Zhang et al. IJCAI 2023), and its files in the cache.

From an :class:`~harness.data.interactions.Interactions` table, :func:`leave_one_out`:

1. binarises: every observed interaction is a positive (as PFedRec: any rating > 0 counts);
2. keeps one row of a repeated (user, item) pair (with time: the earliest);
3. drops users with fewer than ``min_interactions`` (3) interactions, and users with fewer than
   ``2 * n_negatives`` items they never touched (no room for disjoint negatives); both are counted;
4. numbers the remaining users and items 0..n-1 (in the order of the raw numbering);
5. holds out two items per user (:data:`HELDOUT_RULES`):

   - ``"time"``, where the file records when each interaction happened (MovieLens, Amazon): the last
     interaction is the test item, the second last the validation item (ties of time by line of the file),
     the rest the training items in time order;
   - ``"random"``, where it does not (Lastfm-2K's ``user_artists.dat``, sorted by artist id within each
     user, where "the last line" would be each user's highest artist id): the test item and then the
     validation item are drawn at random from the user's items in item-id order, from a generator seeded by
     :data:`SPLIT_SEED` and the user's raw id; the rest are the training items in item-id order. Nothing
     depends on the order of the file's lines;

6. draws, from :data:`SPLIT_SEED`, ``2 * n_negatives`` distinct items the user never touched (train,
   validation or test): the first half are the validation negatives, the second half the test negatives;
7. shuffles each user's 100 test candidates (test item and its 99 negatives) so that a method cannot tell
   the test item by its column.

:func:`ensure_split` writes the result once into the cache of derived files (:mod:`harness.cache`), never into
the dataset folder: ``<cache>/fedrec/<dataset>/<subset>/v<PROTOCOL_VERSION>-<key>/`` (:data:`SPLIT_FILES`, fixed
dtypes), where ``<key>`` hashes the dataset folder's fingerprint, the content of the subset's files
(:func:`source_files`), the card's loader and :data:`PROTOCOL_VERSION`: a changed file or protocol gives a new
split. Every method and seed reads the same files; the track writes them when it lists the subsets, before any
job starts. Where the cache cannot be written, :func:`load_split` computes the split in memory (the same arrays)
and says so in the log.
"""

from __future__ import annotations

import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.interactions import Interactions

__all__ = [
    "HELDOUT_RULES",
    "MIN_INTERACTIONS",
    "N_EVAL_NEGATIVES",
    "PROTOCOL_VERSION",
    "SPLIT_FILES",
    "SPLIT_SEED",
    "LeaveOneOutSplit",
    "ensure_split",
    "leave_one_out",
    "load_split",
    "read_split",
    "source_files",
    "split_folder",
    "write_split",
]

#: Version of the protocol and of the split's files; bump it whenever either changes (v2: a random held-out item
#: per user where the data has no time, and the files in the cache of derived files).
PROTOCOL_VERSION = "2"
#: Seed of the held-out items of data without time, of the evaluation negatives and of the order of the test
#: candidates (one split for every job).
SPLIT_SEED = 0
#: Users with fewer interactions are dropped (they cannot give a training, validation and test item).
MIN_INTERACTIONS = 3
#: Sampled negatives per user for validation, and again (disjoint) for test.
N_EVAL_NEGATIVES = 99
#: How the validation and test items are chosen: by time where the data has it, else at random (module docstring).
HELDOUT_RULES = ("time", "random")
#: Files of a stored split.
SPLIT_FILES = (
    "train_indptr.npy", "train_items.npy", "val_candidates.npy", "test_candidates.npy", "test_items.npy",
    "summary.json",
)
#: Track name of the cache folder.
_TRACK = "fedrec"


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """A leave-one-out split with its fixed evaluation negatives.

    Attributes:
        train_indptr: int64 array of shape (n_users + 1,); user u's training items are
            ``train_items[train_indptr[u]:train_indptr[u + 1]]``.
        train_items: int64 array of shape (n_train,), each user's training items in time order (in item-id order
            where the data has no time).
        val_candidates: int64 array of shape (n_users, 100); column 0 is the validation item, columns 1..99
            its negatives.
        test_candidates: int64 array of shape (n_users, 100), the test item and its 99 negatives, shuffled.
        test_items: int64 array of shape (n_users,), the test item of each user (-1 where not read).
        summary: Counts (users and items kept, interactions, users dropped and why) and the protocol settings,
            ``heldout_rule`` among them.
    """

    train_indptr: np.ndarray
    train_items: np.ndarray
    val_candidates: np.ndarray
    test_candidates: np.ndarray
    test_items: np.ndarray
    summary: dict[str, Any]

    @property
    def n_users(self) -> int:
        """Number of users (clients) kept."""
        return len(self.test_items)

    @property
    def n_items(self) -> int:
        """Number of items kept."""
        return int(self.summary["n_items"])


def _dedupe_sorted(interactions: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by (user, time, line), or by (user, item) without time; one row of each (user, item) pair.

    With time the earliest row of a pair is kept; without time the rows of a pair are alike (binarised), and the
    result does not depend on the order of the lines.
    """
    if interactions.has_time:
        order = np.lexsort((interactions.line, interactions.timestamp, interactions.user))
    else:
        order = np.lexsort((interactions.item, interactions.user))
    user, item = interactions.user[order], interactions.item[order]
    pair = user * np.int64(interactions.n_items) + item
    _, first = np.unique(pair, return_index=True)
    keep = np.sort(first)
    return user[keep], item[keep]


def _draw_negatives(rng: np.random.Generator, n_items: int, owned: np.ndarray, n_draw: int) -> np.ndarray:
    """``n_draw`` distinct items outside the sorted array ``owned``, in draw order."""
    picked: list[int] = []
    seen: set[int] = set()
    while len(picked) < n_draw:
        draws = rng.integers(0, n_items, size=2 * n_draw)
        position = np.searchsorted(owned, draws).clip(max=len(owned) - 1)
        free = draws[owned[position] != draws]
        for value in free.tolist():
            if value not in seen:
                seen.add(value)
                picked.append(value)
                if len(picked) == n_draw:
                    break
    return np.asarray(picked, dtype=np.int64)


def _random_heldout(indptr: np.ndarray, user_ids: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each user's test and validation item, drawn from a generator of (``seed``, the user's raw id).

    Args:
        indptr: int64 array of shape (n_users + 1,), each user's rows (sorted by item id) in the table.
        user_ids: str array of shape (n_users,), the raw id of each user.
        seed: The protocol's seed.

    Returns:
        Two int64 arrays of shape (n_users,): the row of the test item and the row of the validation item, two
        distinct rows of the user's block, each position equally likely whatever the order of the file.
    """
    salt = zlib.crc32(b"fedrec-heldout")
    test_rows = np.empty(len(user_ids), dtype=np.int64)
    val_rows = np.empty(len(user_ids), dtype=np.int64)
    for u, raw in enumerate(user_ids.tolist()):
        rng = np.random.default_rng([seed, salt, zlib.crc32(str(raw).encode())])
        n = int(indptr[u + 1] - indptr[u])
        test = int(rng.integers(n))
        val = int(rng.integers(n - 1))
        val += val >= test
        test_rows[u], val_rows[u] = indptr[u] + test, indptr[u] + val
    return test_rows, val_rows


def _kept_users(user: np.ndarray, item: np.ndarray, n_users: int, min_interactions: int,
                n_negatives: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Users kept, users with too few interactions, users without room for negatives, items kept (sorted)."""
    counts = np.bincount(user, minlength=n_users)
    few = counts < min_interactions
    keep_users = ~few
    no_room = np.zeros_like(few)
    while True:  # dropping users can shrink the item set, which can leave another user without room
        kept_items = np.unique(item[keep_users[user]])
        lacking = keep_users & (len(kept_items) - counts < 2 * n_negatives)
        if not lacking.any():
            return keep_users, few, no_room, kept_items
        no_room |= lacking
        keep_users &= ~lacking


def leave_one_out(
    interactions: Interactions,
    *,
    min_interactions: int = MIN_INTERACTIONS,
    n_negatives: int = N_EVAL_NEGATIVES,
    seed: int = SPLIT_SEED,
) -> LeaveOneOutSplit:
    """Split interactions leave-one-out, by time or at random, with fixed sampled negatives (module docstring).

    Args:
        interactions: The table read by a loader of :mod:`harness.data.interactions`; its ``has_time`` picks the
            rule of the held-out items (:data:`HELDOUT_RULES`).
        min_interactions: Users with fewer distinct items are dropped; at least 3.
        n_negatives: Negatives per user for validation, and as many again for test.
        seed: Seed of the held-out items without time, of the negatives and of the order of the test candidates.

    Returns:
        The split; ``summary`` counts the users dropped (``n_users_dropped_few`` below ``min_interactions``,
        ``n_users_dropped_no_room`` without ``2 * n_negatives`` untouched items) and names the ``heldout_rule``.

    Raises:
        ValueError: ``min_interactions < 3``, or no user is left.

    Example:
        >>> from harness.data.interactions import Interactions
        >>> rows = [(u, 10 * u + i) for u in range(5) for i in range(5)]
        >>> user, item = (np.array(c) for c in zip(*rows))
        >>> table = Interactions(user, item, np.ones(25), np.arange(25), np.arange(1, 26), np.array(list("abcde")),
        ...                      np.array([str(i) for i in range(50)]), "demo", has_time=False)
        >>> split = leave_one_out(table, n_negatives=9)
        >>> split.summary["heldout_rule"], split.n_users, split.val_candidates.shape
        ('random', 5, (5, 10))
    """
    if min_interactions < 3:
        msg = f"min_interactions must be >= 3 (a training, a validation and a test item); got {min_interactions}."
        raise ValueError(msg)
    user, item = _dedupe_sorted(interactions)
    n_duplicates = len(interactions) - len(user)
    keep_users, few, no_room, kept_items = _kept_users(user, item, interactions.n_users, min_interactions,
                                                       n_negatives)
    if not keep_users.any():
        msg = (
            f"{interactions.path}: no user is left after dropping {int(few.sum())} user(s) with fewer than "
            f"{min_interactions} interactions and {int(no_room.sum())} without {2 * n_negatives} untouched items."
        )
        raise ValueError(msg)
    rows = keep_users[user]
    user_code = np.cumsum(keep_users) - 1
    item_code = np.full(interactions.n_items, -1, dtype=np.int64)
    item_code[kept_items] = np.arange(len(kept_items))
    user, item = user_code[user[rows]], item_code[item[rows]]
    n_users, n_items = int(keep_users.sum()), len(kept_items)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(user, minlength=n_users))])
    rule = "time" if interactions.has_time else "random"
    if rule == "time":
        last, second = indptr[1:] - 1, indptr[1:] - 2
    else:
        last, second = _random_heldout(indptr, np.asarray(interactions.user_ids)[keep_users], seed)
    train_mask = np.ones(len(user), dtype=bool)
    train_mask[last] = False
    train_mask[second] = False
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"fedrec-leave-one-out")]))
    val_candidates = np.empty((n_users, n_negatives + 1), dtype=np.int64)
    test_candidates = np.empty((n_users, n_negatives + 1), dtype=np.int64)
    for u in range(n_users):
        owned = np.sort(item[indptr[u] : indptr[u + 1]])
        negatives = _draw_negatives(rng, n_items, owned, 2 * n_negatives)
        val_candidates[u, 0] = item[second[u]]
        val_candidates[u, 1:] = negatives[:n_negatives]
        test = np.concatenate([[item[last[u]]], negatives[n_negatives:]])
        test_candidates[u] = test[rng.permutation(len(test))]
    summary = {
        "protocol_version": PROTOCOL_VERSION,
        "split_seed": seed,
        "heldout_rule": rule,
        "min_interactions": min_interactions,
        "n_negatives": n_negatives,
        "n_rows_read": len(interactions),
        "n_duplicates_dropped": n_duplicates,
        "n_users_read": interactions.n_users,
        "n_items_read": interactions.n_items,
        "n_users_dropped_few": int(few.sum()),
        "n_users_dropped_no_room": int(no_room.sum()),
        "n_users": n_users,
        "n_items": n_items,
        "n_interactions": len(user),
        "n_train": int(train_mask.sum()),
    }
    train_indptr = np.concatenate([[0], np.cumsum(np.bincount(user[train_mask], minlength=n_users))])
    return LeaveOneOutSplit(
        train_indptr.astype(np.int64), item[train_mask].astype(np.int64), val_candidates, test_candidates,
        item[last].astype(np.int64), summary,
    )


def source_files(root: Path, subset: str) -> list[Path]:
    """The files a subset's split is computed from, whose content its cache key hashes.

    Every file of the subset folder ``<root>/<subset>/`` (MovieLens, Lastfm-2K); else the files
    ``<root>/<subset>.*`` (one file per subset, as Amazon's CSVs); else the files directly in ``root`` (a root
    that is itself the subset). Hidden files are left out.

    Returns:
        The files, sorted by path.
    """
    root = Path(root)
    folder = root / subset
    if folder.is_dir():
        found = [p for p in folder.rglob("*") if p.is_file()]
    else:
        found = [p for p in root.glob(f"{subset}.*") if p.is_file()] or [p for p in root.iterdir() if p.is_file()]
    return sorted(p for p in found if not any(part.startswith(".") for part in p.relative_to(root).parts))


def split_folder(root: Path, dataset: str, subset: str, *, loader: str, cache_root: Path | None = None) -> Path:
    """Return the cache folder of a subset's split (not created; see :func:`harness.cache.derived_folder`).

    Args:
        root: The dataset folder.
        dataset: The dataset card's name.
        subset: The subset.
        loader: The card's loader target (``"module:function"``); part of the key, as the file format decides
            the held-out rule.
        cache_root: The cache of derived files; ``None`` means its default.

    Returns:
        ``<cache>/fedrec/<dataset>/<subset>/v<PROTOCOL_VERSION>-<key>``, ``<key>`` hashing the dataset folder's
        fingerprint, the content of :func:`source_files`, ``loader`` and :data:`PROTOCOL_VERSION`.
    """
    from harness.cache import content_digest, derived_folder
    from harness.cards import dataset_fingerprint

    extra = {"sources": content_digest(source_files(root, subset), root=root), "loader": loader}
    return derived_folder(_TRACK, dataset, subset, fingerprint=dataset_fingerprint(root), version=PROTOCOL_VERSION,
                          extra=extra, cache_root=cache_root)


def write_split(split: LeaveOneOutSplit, folder: Path) -> None:
    """Write the split's :data:`SPLIT_FILES` into ``folder`` atomically (:func:`harness.cache.write_folder`).

    A folder that already exists is left as it is (another process wrote the same split first).

    Raises:
        OSError: The folder cannot be written.
    """
    from harness.cache import write_folder

    def fill(tmp: Path) -> None:
        for name in ("train_indptr", "train_items", "val_candidates", "test_candidates", "test_items"):
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(split, name), dtype=np.int64))
        (tmp / "summary.json").write_text(json.dumps(split.summary, indent=1, sort_keys=True) + "\n")

    write_folder(folder, fill)


def read_split(folder: Path, *, with_test: bool = True) -> LeaveOneOutSplit:
    """Read a split written by :func:`write_split`.

    Args:
        folder: The split's folder.
        with_test: Read the test items too (the runner's process only; a job reads the candidates alone).

    Raises:
        FileNotFoundError: A file of the split is missing.
    """
    folder = Path(folder)

    def load(name: str) -> np.ndarray:
        return np.load(folder / f"{name}.npy", allow_pickle=False)

    summary = json.loads((folder / "summary.json").read_text())
    test_items = load("test_items") if with_test else np.full(summary["n_users"], -1, dtype=np.int64)
    return LeaveOneOutSplit(
        load("train_indptr"), load("train_items"), load("val_candidates"), load("test_candidates"), test_items,
        summary,
    )


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in SPLIT_FILES)


def _compute(root: Path, subset: str, loader: str) -> LeaveOneOutSplit:
    from harness.registry import load_target

    return leave_one_out(load_target(loader)(root, subset))


def ensure_split(root: Path, dataset: str, subset: str, *, loader: str, cache_root: Path | None = None) -> Path:
    """Return the cache folder of ``subset``'s split, writing the split first when it is not there.

    Args:
        root: The dataset folder (only read).
        dataset: The dataset card's name.
        subset: The subset.
        loader: The card's loader target, ``load(root, subset) -> Interactions``.
        cache_root: The cache of derived files; ``None`` means its default.

    Raises:
        OSError: The cache cannot be written.
    """
    folder = split_folder(root, dataset, subset, loader=loader, cache_root=cache_root)
    if not _complete(folder):
        write_split(_compute(root, subset, loader), folder)
    return folder


def load_split(
    root: Path,
    dataset: str,
    subset: str,
    *,
    loader: str,
    cache_root: Path | None = None,
    with_test: bool = True,
) -> LeaveOneOutSplit:
    """The split of ``subset``: read from the cache, written there first when missing, computed here if it cannot be.

    Args:
        root: The dataset folder (only read).
        dataset: The dataset card's name.
        subset: The subset.
        loader: The card's loader target.
        cache_root: The cache of derived files; ``None`` means its default.
        with_test: Keep the test items (else ``test_items`` is all -1).

    Returns:
        The same arrays either way; a cache that cannot be written is logged as a warning.
    """
    folder = split_folder(root, dataset, subset, loader=loader, cache_root=cache_root)
    if not _complete(folder):
        split = _compute(root, subset, loader)
        try:
            write_split(split, folder)
        except OSError as exc:
            logging.getLogger("parbench.job").warning(
                "%s/%s: the split cannot be stored in the cache of derived files (%s); computed in this process. "
                "Pass a writable --cache (or $PARBENCH_CACHE) to compute it once.", dataset, subset, exc)
            if with_test:
                return split
            return LeaveOneOutSplit(split.train_indptr, split.train_items, split.val_candidates,
                                    split.test_candidates, np.full(split.n_users, -1, dtype=np.int64), split.summary)
    return read_split(folder, with_test=with_test)
