from pathlib import Path

import pytest

from harness.cards import CACHE_FOLDER, card_names, dataset_fingerprint, load_card, resolve_dataset
from harness.errors import CardError, DatasetNotFoundError, UnknownNameError
from harness.registry import load_target, tracks


@pytest.mark.parametrize("name", card_names())
def test_every_card_is_complete_and_its_code_exists(name):
    card = load_card(name)
    assert card.track in tracks.names() or card.track in {"anomaly", "fedrec", "active"}
    assert callable(load_target(card.loader))
    assert callable(load_target(card.subsets_lister))
    if card.generator:
        assert callable(load_target(card.generator))


def _write(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.toml").write_text(text)


GOOD = """
name = "demo"
title = "Demo"
track = "toy"
loader = "harness.tracks.toy:ToyTrack.load_train"
subsets_lister = "harness.tracks.toy:list_subsets"
source = "https://example.org/demo"
license = "CC0"
citation = "Nobody 2026"
main_score = "accuracy"
splits = ["train", "test"]
subsets = ["easy"]
placement = "<data-root>/demo/<subset>/train.csv"
description = "demo"
"""


def test_unknown_key_is_rejected_naming_allowed(tmp_path):
    _write(tmp_path, GOOD + 'licence = "x"\n')
    with pytest.raises(CardError, match=r"demo.toml: key 'licence' is not allowed; allowed keys: .*license"):
        load_card("demo", cards_dir=tmp_path)


def test_timestamps_must_be_a_boolean(tmp_path):
    _write(tmp_path, GOOD + 'timestamps = "no"\n')
    with pytest.raises(CardError, match=r"demo.toml: key 'timestamps' must be true or false; got 'no'"):
        load_card("demo", cards_dir=tmp_path)
    _write(tmp_path, GOOD + "timestamps = false\n")
    assert load_card("demo", cards_dir=tmp_path).timestamps is False


def test_interaction_cards_say_whether_their_format_records_time():
    from harness.data.interactions import FORMATS

    for name in card_names():
        card = load_card(name)
        if card.loader.startswith("harness.data.interactions:load_"):
            fmt = FORMATS[card.loader.rsplit(":load_", 1)[1]]
            assert card.timestamps == ("timestamp" in fmt.columns), name
    assert load_card("lastfm_2k").timestamps is False


def test_unfilled_key_is_rejected(tmp_path):
    _write(tmp_path, GOOD.replace('license = "CC0"', 'license = ""'))
    with pytest.raises(CardError, match="required key 'license' is missing or empty"):
        load_card("demo", cards_dir=tmp_path)


def test_unknown_card_suggests(tmp_path):
    _write(tmp_path, GOOD)
    with pytest.raises(UnknownNameError, match="Unknown dataset 'dmeo'; did you mean 'demo'"):
        load_card("dmeo", cards_dir=tmp_path)


def test_missing_real_dataset_says_where_to_get_and_put_it(tmp_path):
    _write(tmp_path, GOOD)
    card = load_card("demo", cards_dir=tmp_path)
    with pytest.raises(DatasetNotFoundError) as info:
        resolve_dataset(card, tmp_path / "nowhere")
    text = str(info.value)
    assert "https://example.org/demo" in text and "<data-root>/demo/<subset>/train.csv" in text
    assert "--data-root" in text


def test_synthetic_dataset_generated_once_and_fingerprint_stable(tmp_path):
    card = load_card("toy_blobs")
    first = resolve_dataset(card, tmp_path)
    stamp = (first / "easy" / "train.csv").stat().st_mtime_ns
    again = resolve_dataset(card, tmp_path)
    assert first == again and (again / "easy" / "train.csv").stat().st_mtime_ns == stamp
    other = resolve_dataset(card, tmp_path / "copy")
    assert dataset_fingerprint(first) == dataset_fingerprint(other)
    (other / CACHE_FOLDER / "track").mkdir(parents=True)
    (other / CACHE_FOLDER / "track" / "derived.bin").write_text("x")
    assert dataset_fingerprint(first) == dataset_fingerprint(other)  # a cache folder left by earlier versions
    (other / "easy" / "extra.txt").write_text("x")
    assert dataset_fingerprint(first) != dataset_fingerprint(other)


def test_real_dataset_found_under_root_or_as_root(tmp_path):
    card = load_card("toy_blobs")
    generated = resolve_dataset(card, tmp_path / "gen")
    _write(tmp_path / "cards", GOOD)
    demo = load_card("demo", cards_dir=tmp_path / "cards")
    assert resolve_dataset(demo, generated) == generated
    (tmp_path / "root").mkdir()
    generated.rename(tmp_path / "root" / "demo")
    assert resolve_dataset(demo, tmp_path / "root") == tmp_path / "root" / "demo"
