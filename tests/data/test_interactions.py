"""Loaders of interaction files: values and id numbering per format, subsets, one clear error per bad line."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cards import load_card
from harness.data import interactions
from harness.data.errors import DataLayoutError, DataMissingError
from harness.data.interactions import list_subsets, load_subset, read_interactions
from harness.registry import load_target

FEDREC_CARDS = ("amazon_5core", "lastfm_2k", "movielens_100k", "movielens_1m", "synth_movielens")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_movielens_100k_values_and_numeric_id_order(tmp_path):
    path = _write(tmp_path / "u.data", "10\t5\t3\t881250949\n2\t7\t4\t891717742\n10\t7\t1\t878887116\n\n")
    table = read_interactions(path, "movielens_100k")
    assert table.user_ids.tolist() == ["2", "10"] and table.item_ids.tolist() == ["5", "7"]  # 2 < 10 numerically
    assert table.user.tolist() == [1, 0, 1] and table.item.tolist() == [0, 1, 1]
    assert table.rating.tolist() == [3, 4, 1] and table.timestamp.tolist() == [881250949, 891717742, 878887116]
    assert table.line.tolist() == [1, 2, 3] and len(table) == 3 and table.user.dtype == np.int64


def test_movielens_1m_double_colon_separator(tmp_path):
    path = _write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    table = read_interactions(path, "movielens_1m")
    assert table.n_users == 2 and table.item_ids.tolist() == ["661", "1193"]
    assert table.item.tolist() == [1, 0, 1] and table.rating.tolist() == [5, 3, 4]


def test_lastfm_header_weights_and_no_time(tmp_path):
    path = _write(tmp_path / "user_artists.dat", "userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n3\t51\t5\n")
    table = read_interactions(path, "lastfm_2k")
    assert table.rating.tolist() == [13883, 11690, 5]
    assert not table.has_time  # no time in the file: nothing may read its line order as time
    assert table.timestamp.tolist() == [2, 3, 4] == table.line.tolist()


def test_formats_with_a_timestamp_column_have_time(tmp_path):
    path = _write(tmp_path / "u.data", "10\t5\t3\t881250949\n")
    assert read_interactions(path, "movielens_100k").has_time


@pytest.mark.parametrize(
    ("text", "users"),
    [
        pytest.param("A1,B9,5.0,1392940800\nA2,B9,4.0,1392940900\n", ["A1", "A2"], id="no-header"),
        pytest.param("asin,reviewerID,overall,unixReviewTime\nB9,A1,5.0,1392940800\nB9,A2,4.0,1392940900\n",
                     ["A1", "A2"], id="named-header-any-order"),
    ],
)
def test_amazon_csv_with_and_without_header(tmp_path, text, users):
    table = read_interactions(_write(tmp_path / "Digital_Music_5.csv", text), "amazon_5core")
    assert table.user_ids.tolist() == users and table.item_ids.tolist() == ["B9"]
    assert table.rating.tolist() == [5.0, 4.0] and table.timestamp.tolist() == [1392940800, 1392940900]


@pytest.mark.parametrize(
    ("fmt", "name", "text", "message"),
    [
        ("movielens_100k", "u.data", "1\t2\t3\t4\n1\t2\t3\n", r"u.data: line 2 has 3 field\(s\), expected 4"),
        ("movielens_100k", "u.data", "1\t2\t3\t4\n\n1\t2\tfive\t4\n", r"line 3 has rating 'five', not a finite"),
        ("movielens_100k", "u.data", "1\t2\t3\t4\n1\t2\t3\tnan\n", r"line 2 has timestamp 'nan', not a finite number"),
        ("movielens_100k", "u.data", "1\t2\t3\t4\n\t2\t3\t4\n", r"u.data: line 2 has an empty user id"),
        ("movielens_1m", "ratings.dat", "1::2::3::4\n1::2::3::4::5\n", r"ratings.dat: line 2 has 5 field\(s\)"),
        ("lastfm_2k", "user_artists.dat", "userID\tartistID\tweight\n2\t51\n", r"user_artists.dat: line 2 has 2"),
        ("amazon_5core", "x.csv", "user,item,score\nA,B,1\n", r"x.csv: line 1 is a header row without a 'timestamp'"),
        ("movielens_100k", "u.data", "\n\n", r"u.data: no interaction lines"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, fmt, name, text, message):
    with pytest.raises(DataLayoutError, match=message):
        read_interactions(_write(tmp_path / name, text), fmt)


def test_missing_file_and_missing_subset(tmp_path):
    with pytest.raises(DataMissingError, match="u.data file .* does not exist"):
        read_interactions(tmp_path / "u.data", "movielens_100k")
    _write(tmp_path / "ml-100k" / "u.data", "1\t2\t3\t4\n")
    with pytest.raises(DataMissingError, match=r"subset 'ml-1m' is not there; present: ml-100k"):
        load_subset(tmp_path, "ml-1m", "movielens_100k")


def test_subsets_are_folders_holding_the_file_or_the_root_itself(tmp_path):
    _write(tmp_path / "b" / "u.data", "1\t2\t3\t4\n")
    _write(tmp_path / "a" / "u.data", "1\t2\t3\t4\n")
    (tmp_path / "processed" / "v1" / "a").mkdir(parents=True)
    _write(tmp_path / ".hidden" / "u.data", "1\t2\t3\t4\n")
    assert list_subsets(tmp_path, "movielens_100k") == ["a", "b"]
    assert list_subsets(tmp_path / "a", "movielens_100k") == ["a"]
    assert len(load_subset(tmp_path / "a", "a", "movielens_100k")) == 1
    _write(tmp_path / "Books_5.csv", "A,B,1,2\n")
    assert list_subsets(tmp_path, "amazon_5core") == ["Books_5"]
    assert list_subsets(tmp_path / "nowhere", "movielens_1m") == []
    with pytest.raises(ValueError, match="interaction format 'netflix' is unknown"):
        list_subsets(tmp_path, "netflix")


@pytest.mark.parametrize("name", FEDREC_CARDS)
def test_fedrec_cards_name_the_loaders_of_this_module(name):
    card = load_card(name)
    assert card.track == "fedrec" and card.main_score == "hr_at_10"
    assert load_target(card.loader).__module__ == interactions.__name__
    assert load_target(card.subsets_lister).__module__ == interactions.__name__
    assert card.splits == ("train", "validation", "test")
