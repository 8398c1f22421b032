"""The split protocol on data without time (Lastfm-2K) and the split's place in the cache of derived files.

Without time no rule may read the order of the file's lines: permuting them gives the same split, and the held-out
items sit anywhere in a user's items (the file sorts them by artist id, so "the last line" would be the highest id).
The real HetRec 2011 file (``../shared/realdata``) is checked when it is there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from lastfm_cases import SUBSET, lastfm_lines, write_lastfm

from harness.cards import dataset_fingerprint, load_card
from harness.data.interactions import load_lastfm_2k
from harness.tracks.fedrec import split as protocol
from harness.tracks.fedrec.split import (
    PROTOCOL_VERSION,
    ensure_split,
    leave_one_out,
    load_split,
    read_split,
    source_files,
    split_folder,
)

SEED = 0
CARD = load_card("lastfm_2k")
#: The real files, when this checkout sits beside the shared folder (``../shared/realdata``).
REAL_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "realdata" / "lastfm_2k"
ARRAYS = ("train_indptr", "train_items", "val_candidates", "test_candidates", "test_items")


def _same(a, b):
    for name in ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.summary == b.summary


def _rank_of(split, items):
    """Rank of each user's held-out item among the user's items by id, divided by (n_items_of_user - 1)."""
    ranks = []
    for u in range(split.n_users):
        mine = np.sort(np.concatenate([split.train_items[split.train_indptr[u]:split.train_indptr[u + 1]],
                                       [split.val_candidates[u, 0], split.test_items[u]]]))
        ranks.append(np.searchsorted(mine, items[u]) / (len(mine) - 1))
    return np.asarray(ranks)


def test_permuting_the_lines_of_a_time_less_file_gives_the_same_split(tmp_path):
    lines = lastfm_lines()
    first = leave_one_out(load_lastfm_2k(write_lastfm(tmp_path / "a", lines), SUBSET), seed=SEED)
    shuffled = [lines[i] for i in np.random.default_rng(1).permutation(len(lines))]
    second = leave_one_out(load_lastfm_2k(write_lastfm(tmp_path / "b", shuffled), SUBSET), seed=SEED)
    assert first.summary["heldout_rule"] == "random"
    _same(first, second)
    reversed_lines = leave_one_out(load_lastfm_2k(write_lastfm(tmp_path / "c", lines[::-1]), SUBSET), seed=SEED)
    _same(first, reversed_lines)
    for u in range(first.n_users):  # training items in item-id order, whatever the order of the lines
        train = first.train_items[first.train_indptr[u]:first.train_indptr[u + 1]]
        assert np.all(np.diff(train) > 0)


def test_held_out_items_of_a_time_less_file_are_not_biased_to_high_ids(tmp_path):
    split = leave_one_out(load_lastfm_2k(write_lastfm(tmp_path, lastfm_lines(n_users=400)), SUBSET), seed=SEED)
    test_rank, val_rank = _rank_of(split, split.test_items), _rank_of(split, split.val_candidates[:, 0])
    # uniform positions have mean 0.5 and standard error 0.29 / sqrt(400) = 0.015; the last line would give 1.0
    assert abs(test_rank.mean() - 0.5) < 0.06 and abs(val_rank.mean() - 0.5) < 0.06
    assert (test_rank == 1.0).mean() < 0.15 and (test_rank == 0.0).mean() < 0.15
    assert np.all(split.test_items != split.val_candidates[:, 0])


def test_time_less_held_out_items_depend_on_the_seed_and_the_user_not_the_other_users(tmp_path):
    lines = lastfm_lines()
    table = load_lastfm_2k(write_lastfm(tmp_path / "a", lines), SUBSET)
    split = leave_one_out(table, seed=SEED)
    assert not np.array_equal(leave_one_out(table, seed=SEED + 1).test_items, split.test_items)
    without_first = [line for line in lines if not line.startswith("2\t")]
    fewer = leave_one_out(load_lastfm_2k(write_lastfm(tmp_path / "b", without_first), SUBSET), seed=SEED)
    kept = load_lastfm_2k(tmp_path / "b", SUBSET)  # every user is kept: item codes are the tables' codes
    assert table.item_ids[split.test_items[1:]].tolist() == kept.item_ids[fewer.test_items].tolist()


def test_data_with_time_keeps_the_last_two_interactions():
    from harness.data.interactions import Interactions

    rows = [(u, 10 * u + i, 50 - i) for u in range(6) for i in range(6)]  # times fall as item ids rise
    user, item, time = (np.array(c) for c in zip(*rows, strict=True))
    table = Interactions(user, item, np.ones(len(user)), time, np.arange(1, len(user) + 1), np.array(list("abcdef")),
                         np.array([str(i) for i in range(60)]), "demo")
    split = leave_one_out(table, n_negatives=9)
    assert split.summary["heldout_rule"] == "time"
    assert (split.test_items % 6).tolist() == [0] * 6  # the latest time is each user's lowest item id here
    assert (split.val_candidates[:, 0] % 6).tolist() == [1] * 6


def test_the_split_lives_in_the_cache_keyed_by_the_data_and_the_protocol(tmp_path, monkeypatch):
    root, cache = write_lastfm(tmp_path / "data", lastfm_lines()), tmp_path / "cache"
    files = sorted(root.rglob("*"))
    folder = ensure_split(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=cache)
    assert folder.parent == cache / "fedrec" / CARD.name / SUBSET and folder.name.startswith(f"v{PROTOCOL_VERSION}-")
    assert sorted(root.rglob("*")) == files  # nothing written beside the data
    assert json.loads((folder / "summary.json").read_text())["heldout_rule"] == "random"
    assert source_files(root, SUBSET) == [root / SUBSET / "user_artists.dat"]
    path = root / SUBSET / "user_artists.dat"
    text = path.read_text()
    before = dataset_fingerprint(root)
    path.write_text(text.replace("\t1", "\t2", 1))  # the same size: the fingerprint cannot see it
    assert dataset_fingerprint(root) == before
    assert split_folder(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=cache) != folder
    path.write_text(text)
    assert split_folder(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=cache) == folder
    monkeypatch.setattr(protocol, "PROTOCOL_VERSION", "next")
    assert split_folder(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=cache).name.startswith("vnext-")


def test_a_cache_that_cannot_be_written_gives_the_same_split_computed_in_memory(tmp_path, caplog):
    root = write_lastfm(tmp_path / "data", lastfm_lines())
    stored = read_split(ensure_split(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=tmp_path / "cache"))
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache should be a folder: not writable, even by root")
    again = load_split(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=blocker)
    _same(stored, again)
    assert "cannot be stored in the cache of derived files" in caplog.text
    hidden = load_split(root, CARD.name, SUBSET, loader=CARD.loader, cache_root=blocker, with_test=False)
    assert (hidden.test_items == -1).all()


@pytest.mark.skipif(not (REAL_ROOT / SUBSET / "user_artists.dat").is_file(),
                    reason=f"the real HetRec 2011 Lastfm-2K files are not at {REAL_ROOT}")
def test_the_real_file_splits_with_the_card_counts_and_not_by_artist_id(tmp_path):
    table = load_lastfm_2k(REAL_ROOT, SUBSET)
    expected = CARD.expected_counts[SUBSET]
    assert {"users": table.n_users, "items": table.n_items, "ratings": len(table)} == expected
    assert not table.has_time
    folder = ensure_split(REAL_ROOT, CARD.name, SUBSET, loader=CARD.loader, cache_root=tmp_path)
    split = read_split(folder)
    s = split.summary
    assert (s["n_users_read"], s["n_items_read"], s["n_rows_read"]) == (
        expected["users"], expected["items"], expected["ratings"])
    counts = np.bincount(table.user)
    assert s["n_users_dropped_few"] == int((counts < 3).sum()) and s["n_users"] == expected["users"] - int(
        (counts < 3).sum())
    assert s["n_interactions"] == s["n_train"] + 2 * s["n_users"] and s["heldout_rule"] == "random"
    test_rank = _rank_of(split, split.test_items)
    assert abs(test_rank.mean() - 0.5) < 0.05  # the last line of each user would give 1.0 for every user
    assert (test_rank == 1.0).mean() < 0.1
