"""What the methods of the ``seqrec`` track receive and return: the data contract, in one place.

A job of the track ranks the items of one *target domain* (its subset) for each of the domain's users. Item ids
are local to a domain (``0 .. n_items - 1``); user ids are global (the same person in every domain), so that a
method can join a user's behaviour across domains (CPRec's all-domain mixed sequences).

- :class:`SeqRecTrain` (``fit``): the *training* sequences of every domain of the dataset (each user's items in
  time order, the validation and test items of every domain removed), every item's title, and the target
  domain's validation items (each user's second-last item), which a method may use for model selection.
- :class:`SeqRecInputs` (``predict``): the target domain's test users and their histories (training items plus
  the validation item, in time order); the test item is the next one.
- Predictions: ``full_scores``, float (n_users, n_items), a score for every item of the target domain, rows in
  the order of :attr:`SeqRecInputs.users`. The track masks each user's history, ranks the rest (full ranking)
  and reads the same scores at the 100 fixed sampled negatives and the test item (sampled ranking): a method never
  sees the candidates. Optional arrays an LM method adds for the figures (float64, one point per logged step):
  ``lm_tokens`` (tokens seen), ``lm_lr`` (learning rate), ``lm_val_loss`` (validation loss, NaN where not
  measured), ``lm_stage`` (0 continual pre-training, 1 adaptation) and ``lm_tokens_per_s`` (shape (1,): training
  throughput of the LM on the job's device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DomainSequences", "SeqRecInputs", "SeqRecTrain", "SeqRecTruth", "pad_histories", "toy_train"]


@dataclass
class DomainSequences:
    """The sequences of one domain, one row per user, in CSR form.

    Attributes:
        name: The domain (an Amazon category such as ``"Books"``, or ``"ml-1m"``).
        titles: Title of every item of the domain, by local item id (length ``n_items``).
        users: int64 array of shape (n_users,), global user ids, sorted.
        indptr: int64 array of shape (n_users + 1,), offsets into ``items``.
        items: int64 array of shape (n_events,), local item ids, each user's in time order.
        times: int64 array of shape (n_events,), unix seconds of each event (ties keep the file's order).
    """

    name: str
    titles: tuple[str, ...]
    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    times: np.ndarray

    @property
    def n_items(self) -> int:
        """Items of the domain."""
        return len(self.titles)

    @property
    def n_users(self) -> int:
        """Users with a sequence in the domain."""
        return len(self.users)

    def sequence(self, row: int) -> np.ndarray:
        """Items of the ``row``-th user, in time order."""
        return self.items[self.indptr[row]:self.indptr[row + 1]]

    def lengths(self) -> np.ndarray:
        """int64 array of shape (n_users,): events per user."""
        return np.diff(self.indptr)


@dataclass
class SeqRecTrain:
    """What a method learns from (see the module docstring).

    Attributes:
        target: The target domain of the job (a key of ``domains``).
        domains: Every domain's training sequences, the target's included, in a fixed order.
        val_items: int64 array of shape (n_users of the target,), each target user's validation item (the item
            after its training sequence), rows as ``domains[target].users``.
        n_users: Users of the whole dataset (global ids lie in ``[0, n_users)``).
        summary: Counts of the protocol (users, items, events kept and filtered per domain).
        cache_root: The cache of derived files of the run (``--cache``), where a method may keep what it computes
            once for several jobs (CPRec's pre-trained LM); ``None``: ``$PARBENCH_CACHE`` or the default.
    """

    target: str
    domains: dict[str, DomainSequences]
    val_items: np.ndarray
    n_users: int
    summary: dict[str, Any] = field(default_factory=dict)
    cache_root: Path | None = None

    @property
    def domain(self) -> DomainSequences:
        """The target domain's training sequences."""
        return self.domains[self.target]

    @property
    def n_items(self) -> int:
        """Items of the target domain."""
        return self.domain.n_items


@dataclass
class SeqRecInputs:
    """Test inputs of the target domain, without the test items.

    Attributes:
        domain: The target domain.
        users: int64 array of shape (n_users,), global user ids (the rows of ``full_scores``).
        indptr: int64 array of shape (n_users + 1,), offsets into ``items``.
        items: int64 array: each user's history (training items, then the validation item), in time order.
        times: int64 array of the same shape as ``items``: unix seconds of each event.
        n_items: Items of the domain (the columns of ``full_scores``).
    """

    domain: str
    users: np.ndarray
    indptr: np.ndarray
    items: np.ndarray
    times: np.ndarray
    n_items: int

    def __len__(self) -> int:
        return len(self.users)

    def sequence(self, row: int) -> np.ndarray:
        """History of the ``row``-th user, in time order."""
        return self.items[self.indptr[row]:self.indptr[row + 1]]


@dataclass
class SeqRecTruth:
    """Test truth of the target domain (runner's process only).

    Attributes:
        test_items: int64 array of shape (n_users,).
        seen: bool array of shape (n_users, n_items): each user's history (masked in the full ranking).
        candidates: int64 array of shape (n_users, 101): the test item in column 0, then 100 fixed negatives.
    """

    test_items: np.ndarray
    seen: np.ndarray
    candidates: np.ndarray

    def __len__(self) -> int:
        return len(self.test_items)

    @property
    def n_items(self) -> int:
        """Items of the domain."""
        return self.seen.shape[1]


def pad_histories(indptr: np.ndarray, items: np.ndarray, max_len: int, *, shift: int = 1) -> np.ndarray:
    """Each row's last ``max_len`` items, left-padded with 0, item ids shifted by ``shift`` (0 stays padding).

    Args:
        indptr: int64 array of shape (n_rows + 1,).
        items: int64 array of item ids.
        max_len: Length of the output rows.
        shift: Added to every item id (1: id 0 is free for padding).

    Returns:
        int64 array of shape (n_rows, max_len).

    Example:
        >>> pad_histories(np.array([0, 3, 4]), np.array([5, 6, 7, 8]), 2).tolist()
        [[7, 8], [0, 9]]
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    n_rows = len(indptr) - 1
    out = np.zeros((n_rows, max_len), dtype=np.int64)
    lengths = np.minimum(np.diff(indptr), max_len)
    for row in range(n_rows):
        n = int(lengths[row])
        if n:
            out[row, max_len - n:] = items[indptr[row + 1] - n:indptr[row + 1]] + shift
    return out


def toy_train(n_users: int = 40, n_items: tuple[int, ...] = (30, 20), *, seed: int = 0,
              target: int = 0) -> tuple[SeqRecTrain, SeqRecInputs]:
    """A small random multi-domain training set and its test inputs, for the tests of methods.

    Each user is in every domain with 5 to 12 events; within a domain item ``i`` is often followed by ``i + 1``
    (a learnable sequential pattern). Titles are words of the form ``"w<k>"`` shared across domains.

    Example:
        >>> train, inputs = toy_train(6, (8, 5))
        >>> train.target, len(inputs), inputs.n_items
        ('D0', 6, 8)
    """
    rng = np.random.default_rng(seed)
    domains = {}
    val_items = None
    test_hist: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for d, n in enumerate(n_items):
        name = f"D{d}"
        titles = tuple(f"w{i % 7} w{(i * 3) % 11} item {i}" for i in range(n))
        seqs = []
        for _ in range(n_users):
            length = int(rng.integers(5, 13))
            seq = [int(rng.integers(n))]
            for _ in range(length - 1):
                seq.append((seq[-1] + 1) % n if rng.random() < 0.7 else int(rng.integers(n)))
            seqs.append(np.asarray(seq, dtype=np.int64))
        train_seqs = [s[:-2] for s in seqs]
        indptr = np.concatenate([[0], np.cumsum([len(s) for s in train_seqs])]).astype(np.int64)
        items = np.concatenate(train_seqs)
        times = np.arange(len(items), dtype=np.int64) * 60 + d
        domains[name] = DomainSequences(name, titles, np.arange(n_users, dtype=np.int64), indptr, items, times)
        if d == target:
            val_items = np.array([s[-2] for s in seqs], dtype=np.int64)
            hist = [s[:-1] for s in seqs]
            h_indptr = np.concatenate([[0], np.cumsum([len(s) for s in hist])]).astype(np.int64)
            h_items = np.concatenate(hist)
            test_hist = (h_indptr, h_items, np.arange(len(h_items), dtype=np.int64) * 60)
    assert val_items is not None and test_hist is not None
    name = f"D{target}"
    train = SeqRecTrain(name, domains, val_items, n_users, {})
    inputs = SeqRecInputs(name, np.arange(n_users, dtype=np.int64), *test_hist, n_items=n_items[target])
    return train, inputs
