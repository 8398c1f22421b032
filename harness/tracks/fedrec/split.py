"""The split protocol of the ``fedrec`` track (PFedRec, Zhang et al. IJCAI 2023), and its files on disk.

From an :class:`~harness.data.interactions.Interactions` table, :func:`leave_one_out`:

1. binarises: every observed interaction is a positive (as PFedRec: any rating > 0 counts);
2. keeps the first (earliest) interaction of a repeated (user, item) pair;
3. drops users with fewer than ``min_interactions`` (3) interactions, and users with fewer than
   ``2 * n_negatives`` items they never touched (no room for disjoint negatives); both are counted;
4. numbers the remaining users and items 0..n-1 (in the order of the raw numbering);
5. splits each user's history by time (ties by line of the file): the last interaction is the test item,
   the second last the validation item, the rest the training items (in time order);
6. draws, from :data:`SPLIT_SEED`, ``2 * n_negatives`` distinct items the user never touched (train,
   validation or test): the first half are the validation negatives, the second half the test negatives;
7. shuffles each user's 100 test candidates (test item and its 99 negatives) so that a method cannot tell
   the test item by its column.

:func:`ensure_split` writes the result once beside the raw data, into
``<dataset folder>/processed/v<PROTOCOL_VERSION>/<subset>/`` (:data:`SPLIT_FILES`, fixed dtypes, so the files
and their sizes depend only on the raw file), and every method and seed reads the same files. The track
calls it when it lists the subsets, before the runner fingerprints the dataset folder, so the fingerprint
covers the split and stays the same from the first run on.
"""

from __future__ import annotations

import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.interactions import Interactions

__all__ = [
    "MIN_INTERACTIONS",
    "N_EVAL_NEGATIVES",
    "PROTOCOL_VERSION",
    "SPLIT_FILES",
    "SPLIT_SEED",
    "LeaveOneOutSplit",
    "ensure_split",
    "leave_one_out",
    "processed_folder",
    "read_split",
    "write_split",
]

#: Version of the protocol and of the processed files; bump it whenever either changes.
PROTOCOL_VERSION = "1"
#: Seed of the evaluation negatives and of the order of the test candidates (one split for every job).
SPLIT_SEED = 0
#: Users with fewer interactions are dropped (they cannot give a training, validation and test item).
MIN_INTERACTIONS = 3
#: Sampled negatives per user for validation, and again (disjoint) for test.
N_EVAL_NEGATIVES = 99
#: Files of a processed split.
SPLIT_FILES = (
    "train_indptr.npy", "train_items.npy", "val_candidates.npy", "test_candidates.npy", "test_items.npy",
    "summary.json",
)


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """A leave-one-out split with its fixed evaluation negatives.

    Attributes:
        train_indptr: int64 array of shape (n_users + 1,); user u's training items are
            ``train_items[train_indptr[u]:train_indptr[u + 1]]``.
        train_items: int64 array of shape (n_train,), each user's training items in time order.
        val_candidates: int64 array of shape (n_users, 100); column 0 is the validation item, columns 1..99
            its negatives.
        test_candidates: int64 array of shape (n_users, 100), the test item and its 99 negatives, shuffled.
        test_items: int64 array of shape (n_users,), the test item of each user.
        summary: Counts (users and items kept, interactions, users dropped and why) and the protocol settings.
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
    """Rows sorted by (user, time, line), first occurrence of each (user, item) only."""
    order = np.lexsort((interactions.line, interactions.timestamp, interactions.user))
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


def leave_one_out(
    interactions: Interactions,
    *,
    min_interactions: int = MIN_INTERACTIONS,
    n_negatives: int = N_EVAL_NEGATIVES,
    seed: int = SPLIT_SEED,
) -> LeaveOneOutSplit:
    """Split interactions by time, leave-one-out, with fixed sampled negatives (see the module docstring).

    Args:
        interactions: The table read by a loader of :mod:`harness.data.interactions`.
        min_interactions: Users with fewer distinct items are dropped; at least 3.
        n_negatives: Negatives per user for validation, and as many again for test.
        seed: Seed of the negatives and of the order of the test candidates.

    Returns:
        The split; ``summary`` counts the users dropped (``n_users_dropped_few`` below ``min_interactions``,
        ``n_users_dropped_no_room`` without ``2 * n_negatives`` untouched items).

    Raises:
        ValueError: ``min_interactions < 3``, or no user is left.
    """
    if min_interactions < 3:
        msg = f"min_interactions must be >= 3 (a training, a validation and a test item); got {min_interactions}."
        raise ValueError(msg)
    user, item = _dedupe_sorted(interactions)
    counts = np.bincount(user, minlength=interactions.n_users)
    few = counts < min_interactions
    keep_users = ~few
    no_room = np.zeros_like(few)
    while True:  # dropping users can shrink the item set, which can leave another user without room
        kept_items = np.unique(item[keep_users[user]])
        lacking = keep_users & (len(kept_items) - counts < 2 * n_negatives)
        if not lacking.any():
            break
        no_room |= lacking
        keep_users &= ~lacking
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
    last, second = indptr[1:] - 1, indptr[1:] - 2
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
        "min_interactions": min_interactions,
        "n_negatives": n_negatives,
        "n_rows_read": len(interactions),
        "n_duplicates_dropped": len(interactions) - int(np.sum(counts)),
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


def processed_folder(root: Path, subset: str) -> Path:
    """Return ``<root>/processed/v<PROTOCOL_VERSION>/<subset>``, where the split of a subset lives."""
    return Path(root) / "processed" / f"v{PROTOCOL_VERSION}" / subset


def write_split(split: LeaveOneOutSplit, folder: Path) -> None:
    """Write the split's :data:`SPLIT_FILES` into ``folder`` atomically (a temporary folder, then a rename).

    A folder that already exists is left as it is (another process wrote the same split first).
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in ("train_indptr", "train_items", "val_candidates", "test_candidates", "test_items"):
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(split, name), dtype=np.int64))
    (tmp / "summary.json").write_text(json.dumps(split.summary, indent=1, sort_keys=True) + "\n")
    try:
        tmp.rename(folder)
    except OSError:
        if not folder.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def read_split(folder: Path, *, with_test: bool = True) -> LeaveOneOutSplit:
    """Read a split written by :func:`write_split`.

    Args:
        folder: The processed folder of one subset.
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


def ensure_split(root: Path, subset: str, load: Any) -> Path:
    """Return the processed folder of ``subset``, writing the split first when it is not there.

    Args:
        root: The dataset folder.
        subset: The subset.
        load: The card's loader, ``load(root, subset) -> Interactions``.
    """
    folder = processed_folder(root, subset)
    if not all((folder / name).is_file() for name in SPLIT_FILES):
        write_split(leave_one_out(load(root, subset)), folder)
    return folder
