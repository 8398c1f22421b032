"""The dataset cards of the anomaly track agree with their loaders, generator and published counts."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from harness.cards import load_card, resolve_dataset
from harness.registry import load_target
from harness.tracks.anomaly import mvtec_3d, mvtec_ad, synth, visa

CARDS = {"mvtec_ad": mvtec_ad, "visa": visa, "mvtec_3d": mvtec_3d, "synth_mvtec_ad": synth}
#: Totals published with each dataset: (train, validation, test).
TOTALS = {"mvtec_ad": (3629, 0, 1725), "visa": (8659, 0, 2162), "mvtec_3d": (2656, 294, 1197)}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_matches_its_module(name):
    card = load_card(name)
    assert card.track == "anomaly" and card.main_score == "image_auroc"
    assert load_target(card.loader).__module__.startswith("harness.tracks.anomaly.")
    assert sorted(card.subsets) == sorted(CARDS[name].CATEGORIES)
    assert set(card.expected_counts) <= set(card.subsets)
    for counts in card.expected_counts.values():
        assert set(counts) <= set(card.splits)


@pytest.mark.parametrize("name", sorted(TOTALS))
def test_expected_counts_add_up_to_the_published_totals(name):
    counts = load_card(name).expected_counts
    assert set(counts) == set(load_card(name).subsets)
    totals = tuple(sum(c.get(split, 0) for c in counts.values()) for split in ("train", "validation", "test"))
    assert totals == TOTALS[name]


def test_synthetic_card_parameters_are_the_generator_defaults():
    card = load_card("synth_mvtec_ad")
    signature = inspect.signature(load_target(card.generator))
    for key, value in card.generator_params.items():
        assert signature.parameters[key].default == value, key
    per_category = card.generator_params["n_test_good"] + 4 * card.generator_params["n_test_defect_per_kind"]
    assert all(
        c == {"train": card.generator_params["n_train"], "test": per_category} for c in card.expected_counts.values()
    )


def test_synthetic_card_resolves_generates_and_loads(tmp_path, helpers):
    card = dataclasses.replace(load_card("synth_mvtec_ad"), generator_params={"seed": 0, **synth.PRESETS["tiny"]})
    folder = resolve_dataset(card, tmp_path)
    assert folder == tmp_path / "synth_mvtec_ad" / f"v{synth.VERSION}-seed0"
    subsets = load_target(card.subsets_lister)(folder)
    assert subsets == ["nut"]
    helpers.check_index(load_target(card.loader)(folder, "nut"))
    assert resolve_dataset(card, tmp_path) == folder  # second call reuses the folder
