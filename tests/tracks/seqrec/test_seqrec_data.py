"""The seqrec track's readers (Amazon 2014/2018/2023 JSON lines, MovieLens), its generator and its split protocol."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from harness.cards import load_card
from harness.data import DataLayoutError
from harness.tracks.seqrec import split as protocol
from harness.tracks.seqrec.loaders import (
    RawDomain,
    RawLog,
    list_amazon,
    list_movielens_1m,
    list_movielens_100k,
    load_amazon,
    load_movielens_1m,
    load_movielens_100k,
)
from harness.tracks.seqrec.synth import generate


def _write_2018(folder: Path, category: str, events, titles, *, gz=False, five=False):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"reviewerID": u, "asin": i, "overall": 5.0, "unixReviewTime": t}) for u, i, t in events]
    name = f"{category}{'_5' if five else ''}.json"
    meta = [json.dumps({"asin": i, "title": t}) for i, t in titles.items()]
    if gz:
        with gzip.open(folder / f"{name}.gz", "wt") as h:
            h.write("\n".join(lines) + "\n")
        with gzip.open(folder / f"meta_{category}.json.gz", "wt") as h:
            h.write("\n".join(meta) + "\n")
    else:
        (folder / name).write_text("\n".join(lines) + "\n")
        (folder / f"meta_{category}.json").write_text("\n".join(meta) + "\n")


def test_amazon_2018_2023_and_2014_layouts_read_the_same_events(tmp_path):
    events = [("u1", "a", 30), ("u2", "b", 10), ("u1", "b", 20)]
    titles = {"a": "Alpha  book", "b": "Beta book"}
    _write_2018(tmp_path / "y2018", "Books", events, titles, gz=True, five=True)
    y2023 = tmp_path / "y2023"
    y2023.mkdir()
    (y2023 / "Books.jsonl").write_text("\n".join(json.dumps(
        {"user_id": u, "asin": "x", "parent_asin": i, "rating": 4.0, "timestamp": t * 1000}) for u, i, t in events))
    (y2023 / "meta_Books.jsonl").write_text("\n".join(json.dumps({"parent_asin": i, "title": t})
                                                      for i, t in titles.items()))
    y2014 = tmp_path / "y2014"
    y2014.mkdir()
    (y2014 / "reviews_Books_5.json").write_text("\n".join(json.dumps(
        {"reviewerID": u, "asin": i, "unixReviewTime": t}) for u, i, t in events))
    (y2014 / "meta_Books.json").write_text("\n".join(repr({"asin": i, "title": t}) for i, t in titles.items()))
    for folder in ("y2018", "y2023", "y2014"):
        log = load_amazon(tmp_path / folder)
        d = log.domains["Books"]
        assert list_amazon(tmp_path / folder) == ["Books"]
        assert d.users.tolist() == ["u1", "u2", "u1"] and d.items.tolist() == ["a", "b", "b"], folder
        assert d.times.tolist() == [30, 10, 20], folder
        assert d.titles["a"] == "Alpha book"


def test_malformed_lines_and_unknown_items_are_counted_and_skipped(tmp_path):
    _write_2018(tmp_path, "Books", [("u1", "a", 1), ("u1", "zz", 2)], {"a": "A"})
    with (tmp_path / "Books.json").open("a") as h:
        h.write("{broken\n" + json.dumps({"reviewerID": "u2", "asin": "a"}) + "\n")
    d = load_amazon(tmp_path).domains["Books"]
    assert d.report["malformed_lines"] == 2 and d.report["first_malformed_line"] == 3
    assert d.report["unknown_items"] == 1 and d.items.tolist() == ["a"]


def test_amazon_errors_name_the_file(tmp_path):
    with pytest.raises(DataLayoutError, match="no Amazon review file"):
        load_amazon(tmp_path)
    (tmp_path / "Books.json").write_text(json.dumps({"reviewerID": "u", "asin": "a", "unixReviewTime": 1}) + "\n")
    with pytest.raises(DataLayoutError, match=r"Books\.json: category 'Books' has no metadata file"):
        load_amazon(tmp_path)
    (tmp_path / "meta_Books.json").write_text(json.dumps({"asin": "a", "title": "A"}) + "\n")
    (tmp_path / "Books.json").write_text("not json\n")
    with pytest.raises(DataLayoutError, match=r"Books\.json: no valid review line \(1 malformed\)"):
        load_amazon(tmp_path)
    (tmp_path / "Books_5.json").write_text("")
    with pytest.raises(DataLayoutError, match="two review files for category 'Books'"):
        load_amazon(tmp_path)
    assert list_amazon(tmp_path) == []


def test_movielens_readers_take_titles_from_their_files(tmp_path):
    ml1m = tmp_path / "ml-1m"
    ml1m.mkdir()
    (ml1m / "ratings.dat").write_text("1::10::5::978300760\n1::20::3::978302109\n2::10::4::978301968\nbad\n")
    (ml1m / "movies.dat").write_bytes("10::Am\xe9lie (2001)::Comedy\n20::Heat (1995)::Action\n".encode("latin-1"))
    log = load_movielens_1m(tmp_path)
    d = log.domains["ml-1m"]
    assert list_movielens_1m(tmp_path) == ["ml-1m"] and d.items.tolist() == ["10", "20", "10"]
    assert d.titles["10"] == "Am\xe9lie (2001)" and d.report["malformed_lines"] == 1
    ml100k = tmp_path / "ml-100k"
    ml100k.mkdir()
    (ml100k / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    (ml100k / "u.item").write_bytes("242|Kolya (1996)|24-Jan-1997||http://x|0\n302|L.A. Confidential (1997)|x\n"
                                    .encode("latin-1"))
    d = load_movielens_100k(tmp_path).domains["ml-100k"]
    assert list_movielens_100k(tmp_path) == ["ml-100k"] and d.titles["302"] == "L.A. Confidential (1997)"
    with pytest.raises(DataLayoutError, match=r"movies\.dat is missing"):
        (ml1m / "movies.dat").unlink()
        load_movielens_1m(tmp_path)


def test_generator_is_deterministic_and_matches_its_card(tmp_path):
    card = load_card("synth_amazon")
    generate(tmp_path / "a", **card.generator_params)
    generate(tmp_path / "b", **card.generator_params)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    log = load_amazon(tmp_path / "a")
    assert sorted(log.domains) == sorted(card.subsets)
    for name, counts in card.expected_counts.items():
        lines = (tmp_path / "a" / f"{name}.json").read_text().splitlines()
        assert len(lines) == counts["lines"]
        assert len(log.domains[name]) == counts["lines"] - 2  # less the malformed line and the unknown item
        assert len(log.domains[name].titles) == counts["items"]


def _log(rows, titles=None):
    """A RawLog of (domain, user, item, time) rows; titles default to the item id."""
    domains = {}
    for name in sorted({r[0] for r in rows}):
        part = [r for r in rows if r[0] == name]
        items = {r[2] for r in part}
        domains[name] = RawDomain(name, np.array([r[1] for r in part]), np.array([r[2] for r in part]),
                                  np.array([r[3] for r in part], dtype=np.int64),
                                  titles or {i: f"title {i}" for i in items})
    return RawLog(domains)


def _slow_kcore(rows, k):
    rows = list(rows)
    while True:
        from collections import Counter

        users = Counter(r[0] for r in rows)
        items = Counter(r[1] for r in rows)
        kept = [r for r in rows if users[r[0]] >= k and items[r[1]] >= k]
        if len(kept) == len(rows):
            return kept
        rows = kept


def test_kcore_matches_a_slow_loop_on_random_logs():
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = int(rng.integers(50, 400))
        users = rng.integers(0, 30, size=n).astype(str)
        items = rng.integers(0, 25, size=n).astype(str)
        k = int(rng.integers(2, 6))
        mask = protocol._kcore(users, items, k)
        expected = _slow_kcore(list(zip(users.tolist(), items.tolist(), range(n), strict=True)), k)
        assert sorted(np.flatnonzero(mask).tolist()) == sorted(r[2] for r in expected), trial


def test_leave_one_out_by_time_whatever_the_order_of_lines():
    rng = np.random.default_rng(1)
    rows = []
    for u in range(300):
        for j, item in enumerate(rng.choice(120, size=int(rng.integers(3, 9)), replace=False)):
            rows.append(("D", f"u{u:03d}", f"i{item:03d}", 1000 * u + 10 * j))
    order = rng.permutation(len(rows))
    a = protocol.make_split(_log(rows), 3)
    b = protocol.make_split(_log([rows[i] for i in order]), 3)
    for name in ("users", "indptr", "items", "times", "negatives"):
        assert np.array_equal(getattr(a.domains["D"], name), getattr(b.domains["D"], name)), name
    d = a.domains["D"]
    kept = _slow_kcore([(r[1], r[2], r[3]) for r in rows], 3)
    item_ids = sorted({r[1] for r in kept})
    users = sorted({r[0] for r in kept})
    assert len(d.users) == len(users) > 250
    for row, raw_user in enumerate(users):
        mine = sorted((r[2], r[1]) for r in kept if r[0] == raw_user)
        seq = d.items[d.indptr[row]:d.indptr[row + 1]]
        assert [item_ids[i] for i in seq] == [m[1] for m in mine]
        negatives = d.negatives[row]
        assert len(set(negatives.tolist())) == protocol.N_NEGATIVES and not set(negatives) & set(seq.tolist())


def test_repeats_are_dropped_and_counted_and_users_without_room_leave_the_domain():
    rows = [("D", "u1", f"i{j}", j) for j in range(5)] + [("D", "u1", "i0", 99)]
    rows += [("D", f"u{k}", f"i{j}", j) for k in range(2, 6) for j in range(5)]
    split = protocol.make_split(_log(rows), 3)
    s = split.summary["domains"]["D"]
    assert s["repeats_dropped"] == 1
    assert s["users_dropped_no_room"] == 5 and s["users"] == 0  # 5 items: no room for 100 negatives
    with pytest.raises(ValueError, match="at least 3"):
        protocol.make_split(_log(rows), 2)


def test_the_split_goes_to_the_cache_and_is_read_back(tmp_path):
    root = tmp_path / "data"
    generate(root, preset="tiny")
    before = sorted(p.name for p in root.iterdir())
    loader = "harness.tracks.seqrec.loaders:load_amazon"
    folder = protocol.ensure_split(root, "synth_amazon", loader=loader, min_interactions=5,
                                   cache_root=tmp_path / "cache")
    assert folder.is_relative_to(tmp_path / "cache") and (folder / "summary.json").is_file()
    assert sorted(p.name for p in root.iterdir()) == before
    again = protocol.load_split(root, "synth_amazon", loader=loader, min_interactions=5, cache_root=tmp_path / "cache")
    fresh = protocol.make_split(load_amazon(root), 5)
    for name, d in fresh.domains.items():
        assert again.domains[name].titles == d.titles
        assert np.array_equal(again.domains[name].items, d.items)
    other = protocol.split_folder(root, "synth_amazon", loader=loader, min_interactions=4,
                                  cache_root=tmp_path / "cache")
    assert other != folder  # k is part of the key
