"""The default data of the active track: deterministic files, the bundled UCI tables value for value."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sklearn.datasets

from harness.cards import load_card, resolve_dataset
from harness.registry import load_target
from harness.tracks.active import synth
from harness.tracks.active.tabular import list_subsets, load_subset

VARIANTS = tuple(sorted(synth.VARIANTS))


@pytest.fixture(scope="module")
def suite(data_root):
    return resolve_dataset(load_card("classification_suite"), data_root)


def test_same_seed_same_bytes_other_seed_other_variants(tmp_path):
    synth.generate(tmp_path / "a", seed=3, subsets=("iris", *VARIANTS))
    synth.generate(tmp_path / "b", seed=3, subsets=("iris", *VARIANTS))
    synth.generate(tmp_path / "c", seed=4, subsets=("iris", *VARIANTS))
    for subset in ("iris", *VARIANTS):
        name = f"{subset}.csv"
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), subset
    assert (tmp_path / "a" / "iris.csv").read_bytes() == (tmp_path / "c" / "iris.csv").read_bytes()
    for subset in VARIANTS:
        assert (tmp_path / "a" / f"{subset}.csv").read_bytes() != (tmp_path / "c" / f"{subset}.csv").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no staging folder left behind


def test_unknown_subset_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"subset 'mnist' is unknown; known subsets: breast_cancer, digits"):
        synth.generate(tmp_path / "x", subsets=("mnist",))


@pytest.mark.parametrize("subset", sorted(synth.BUNDLED))
def test_bundled_tables_are_scikit_learns_values(suite, subset):
    features, labels = getattr(sklearn.datasets, synth.BUNDLED[subset])(return_X_y=True)
    table = load_subset(suite, subset)
    np.testing.assert_array_equal(table.features, features)
    np.testing.assert_array_equal(table.labels, labels)


def test_card_counts_match_the_files(suite):
    card = load_card("classification_suite")
    assert list_subsets(suite) == sorted(card.subsets) == list(synth.SUBSETS)
    assert load_target(card.generator) is synth.generate and suite.name == f"v{synth.VERSION}-seed0"
    for subset, counts in card.expected_counts.items():
        table = load_subset(suite, subset)
        got = {"all": len(table.labels), "features": table.features.shape[1], "classes": table.n_classes}
        assert got == counts, subset


def test_variants_have_their_designed_shape(suite):
    imbalanced = np.bincount(load_subset(suite, "imbalanced").labels) / 600
    assert imbalanced[0] > 0.7 and imbalanced[2] < 0.1
    assert load_subset(suite, "many_classes").n_classes == 10


def test_tabular_csv_card_reads_a_users_folder(tmp_path):
    folder = tmp_path / "tabular_csv"
    folder.mkdir()
    (folder / "mine.csv").write_text("f1,f2,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    card = load_card("tabular_csv")
    assert resolve_dataset(card, tmp_path) == folder
    assert load_target(card.loader)(folder, "mine").features.shape == (20, 2)
    with pytest.raises(FileNotFoundError, match="place it as <data-root>/tabular_csv/<name>.csv"):
        resolve_dataset(dataclasses.replace(card), tmp_path / "empty")
