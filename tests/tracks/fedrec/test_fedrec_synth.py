"""The synthetic MovieLens-format generator: determinism, the card's counts, and the properties it promises."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.cards import dataset_fingerprint, load_card, resolve_dataset
from harness.data.interactions import load_movielens_100k
from harness.tracks.fedrec import synth as movielens


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "data"
    movielens.generate(root, seed=0)
    return root


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, written):
    again = tmp_path / "again"
    movielens.generate(again, seed=0, subsets=("tiny",))
    assert (again / "tiny" / "u.data").read_bytes() == (written / "tiny" / "u.data").read_bytes()
    other = tmp_path / "other"
    movielens.generate(other, seed=1, subsets=("tiny",))
    assert (other / "tiny" / "u.data").read_bytes() != (written / "tiny" / "u.data").read_bytes()
    with pytest.raises(ValueError, match="subset 'huge' is unknown"):
        movielens.generate(tmp_path / "x", subsets=("huge",))


def test_counts_match_the_card(written):
    card = load_card("synth_movielens")
    assert sorted(card.subsets) == sorted(movielens.SUBSETS) and card.generator_params == {"seed": 0}
    for subset, expected in card.expected_counts.items():
        table = load_movielens_100k(written, subset)
        assert {"users": table.n_users, "items": table.n_items, "ratings": len(table)} == expected
        info = (written / subset / "u.info").read_text().split("\n")
        assert info[:3] == [f"{expected[key]} {key}" for key in ("users", "items", "ratings")]


def test_ml100k_size_looks_like_movielens(written):
    table = load_movielens_100k(written, "ml100k_size")
    per_user, per_item = np.bincount(table.user), np.bincount(table.item)
    assert per_user.min() >= 20 and per_item.min() >= 1  # every user rates 20+, every item is rated
    assert per_item.max() > 8 * np.median(per_item)  # a long tail of popularity
    assert set(np.unique(table.rating)) == {1, 2, 3, 4, 5}
    pairs = table.user * table.n_items + table.item
    assert len(np.unique(pairs)) == len(pairs)  # no repeated (user, item)
    first, last = 874_713_600, 874_713_600 + 214 * 86_400
    assert first <= table.timestamp.min() and table.timestamp.max() <= last


def test_users_are_heterogeneous(written):
    """Non-IID clients: two users share far fewer items than popularity alone would make them share."""
    table = load_movielens_100k(written, "ml100k_size")
    matrix = np.zeros((table.n_users, table.n_items))
    matrix[table.user, table.item] = 1
    counts = matrix.sum(1)
    cosine = (matrix @ matrix.T) / np.sqrt(np.outer(counts, counts))
    np.fill_diagonal(cosine, np.nan)
    # a few pairs of users share a taste, most share little: the similarities are far from uniform
    assert np.nanpercentile(cosine, 99) > 3 * np.nanmedian(cosine)


def test_card_resolves_generates_once_and_fingerprints_stably(tmp_path):
    card = dataclasses.replace(load_card("synth_movielens"))
    folder = resolve_dataset(card, tmp_path)
    assert folder == tmp_path / "synth_movielens" / f"v{movielens.VERSION}-seed0"
    stamp = (folder / "tiny" / "u.data").stat().st_mtime_ns
    assert resolve_dataset(card, tmp_path) == folder
    assert (folder / "tiny" / "u.data").stat().st_mtime_ns == stamp
    assert dataset_fingerprint(folder) == dataset_fingerprint(resolve_dataset(card, tmp_path / "copy"))
