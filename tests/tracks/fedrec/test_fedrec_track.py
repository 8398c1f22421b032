"""The fedrec track: split protocol and its stored negatives, evaluation, validation, no leakage, smoke grid."""

from __future__ import annotations

import numpy as np
import pytest
from lastfm_cases import SUBSET, lastfm_lines, write_lastfm
from read_only import run_on_read_only_view

from harness.api import Predictions
from harness.cards import load_card, resolve_dataset
from harness.data.interactions import Interactions
from harness.errors import BudgetError, InvalidPredictionError
from harness.metrics.ranking import ndcg_at_k
from harness.runner import plan_run, run_plan
from harness.store import Store
from harness.tracks.fedrec import SPECTRA, FedRecInputs, FedRecTrack, FedRecTruth, spectrum
from harness.tracks.fedrec.split import ensure_split, leave_one_out, read_split, split_folder

SEED = 0
E2E_METHODS = ["central-mf", "fedmf", "pfedrec-plgc", "popularity"]


def _table(rows):
    """Interactions from (user, item, timestamp) rows, in file order."""
    users, items, times = (np.array(col) for col in zip(*rows, strict=True))
    n = len(users)
    return Interactions(users, items, np.ones(n), times, np.arange(1, n + 1), np.unique(users).astype(str),
                        np.arange(items.max() + 1).astype(str), "demo")


def _fillers(first_user, n_users=6, start=100, per_user=40):
    """Users with disjoint blocks of items, so that every user has room for 198 untouched items."""
    return [(first_user + u, start + u * per_user + i, i) for u in range(n_users) for i in range(per_user)]


def _history_table():
    rows = [(0, 5, 30), (0, 7, 10), (0, 9, 20), (0, 11, 40), (0, 3, 40)]  # 11 and 3 tie at t=40: line order
    rows += [(1, 2, 5), (1, 4, 6), (1, 2, 9), (1, 6, 7)]  # item 2 twice: the first (t=5) is kept
    rows += [(2, 1, 1), (2, 8, 2)]  # two interactions: dropped
    rows += [(3, i, i) for i in range(10, 20)] + [(3, 99, 100)]
    return _table(rows + _fillers(4))


def _raw(split, table, codes):
    kept = np.unique(table.item[np.isin(table.user, [0, 1, 3, 4, 5, 6, 7, 8, 9])])
    return kept[codes].tolist()


def test_leave_one_out_by_time_drops_and_counts_short_users():
    table = _history_table()
    split = leave_one_out(table, seed=SEED)
    s = split.summary
    assert (s["n_users_dropped_few"], s["n_users_dropped_no_room"], s["n_duplicates_dropped"]) == (1, 0, 1)
    assert s["n_users"] == 9 and split.n_items == 258  # 8 + 11 + 240 items, item 11 shared by users 0 and 3
    assert split.train_indptr[:4].tolist() == [0, 3, 4, 13]
    assert _raw(split, table, split.train_items[:4]) == [7, 9, 5, 2]  # user 0 in time order; user 1 keeps (2, t=5)
    assert _raw(split, table, split.val_candidates[:3, 0]) == [11, 4, 19]  # tie at t=40 broken by line: 11 first
    assert _raw(split, table, split.test_items[:3]) == [3, 6, 99]


def test_negatives_are_disjoint_stored_once_and_reused():
    split = leave_one_out(_history_table(), seed=SEED)
    for u in range(split.n_users):
        owned = set(split.train_items[split.train_indptr[u] : split.train_indptr[u + 1]].tolist())
        owned |= {int(split.val_candidates[u, 0]), int(split.test_items[u])}
        val_neg, test_cand = set(split.val_candidates[u, 1:].tolist()), set(split.test_candidates[u].tolist())
        assert len(val_neg) == 99 and len(test_cand) == 100 and split.test_items[u] in test_cand
        assert not val_neg & owned and not (test_cand - {int(split.test_items[u])}) & owned
        assert not val_neg & test_cand  # validation and test negatives are disjoint
    positions = [int(np.flatnonzero(row == t)[0]) for row, t in zip(split.test_candidates, split.test_items,
                                                                      strict=True)]
    assert len(set(positions)) > 1  # the test item's column is shuffled
    again = leave_one_out(_history_table(), seed=SEED)
    assert np.array_equal(again.test_candidates, split.test_candidates)
    other = leave_one_out(_history_table(), seed=SEED + 1)
    assert not np.array_equal(other.val_candidates, split.val_candidates)


def test_user_without_room_for_negatives_is_dropped():
    heavy = [(0, i, i) for i in range(100, 282)]  # 182 of the 240 items leave 58 untouched: no room for 198
    split = leave_one_out(_table(heavy + _fillers(1)), seed=SEED)
    assert split.summary["n_users_dropped_no_room"] == 1 and split.n_users == 6
    with pytest.raises(ValueError, match="no user is left"):
        leave_one_out(_table([(0, 1, 1), (0, 2, 2)]))


@pytest.fixture(scope="module")
def synth(data_root):
    card = load_card("synth_movielens")
    root = resolve_dataset(card, data_root)
    FedRecTrack().subsets(root, card)
    return root, card


def test_split_files_are_written_once_into_the_cache_and_read_by_every_loader(synth, cache_root):
    root, card = synth
    folder = split_folder(root, card.name, "tiny", loader=card.loader)
    assert folder.is_relative_to(cache_root / "fedrec" / card.name / "tiny") and not folder.is_relative_to(root)
    assert not list(root.rglob("*.npy")) and not (root / "processed").exists()  # nothing beside the data
    stamp = (folder / "test_candidates.npy").stat().st_mtime_ns
    assert ensure_split(root, card.name, "tiny", loader=card.loader) == folder
    assert (folder / "test_candidates.npy").stat().st_mtime_ns == stamp
    track = FedRecTrack()
    budget = track.budget("smoke")
    train = track.load_train(root, card, "tiny", budget, seed=SEED)
    inputs = track.load_test_inputs(root, card, "tiny", budget, seed=SEED + 3)
    truth = track.load_truth(root, card, "tiny", budget, seed=SEED + 5)
    stored = read_split(folder)
    assert np.array_equal(inputs.candidates, stored.test_candidates)
    assert np.array_equal(truth.candidates, inputs.candidates)
    assert np.array_equal(train.val_candidates, stored.val_candidates)
    assert train.summary["n_users_dropped_few"] == 3 and train.n_users == 60


def test_job_side_data_never_holds_the_test_items(synth):
    root, card = synth
    track = FedRecTrack()
    budget = track.budget("smoke")
    train = track.load_train(root, card, "tiny", budget)
    inputs = track.load_test_inputs(root, card, "tiny", budget)
    truth = track.load_truth(root, card, "tiny", budget)
    assert isinstance(inputs, FedRecInputs) and set(vars(inputs)) == {"candidates", "n_items", "embedding_users"}
    for u in range(train.n_users):
        history = set(train.train_items[train.train_indptr[u] : train.train_indptr[u + 1]].tolist())
        assert truth.test_items[u] not in history | set(train.val_candidates[u].tolist())
        assert truth.seen[u].sum() == len(history) + 1 and not truth.seen[u, truth.test_items[u]]


def _negatives_per_user(train, n_negatives=50):
    """One round's training negatives of every user, drawn by the simulator from ``train``."""
    import torch

    from harness.tracks.fedrec.fedsim import FedData, sample_round

    data = FedData.from_train(train)
    users = torch.arange(train.n_users)
    samples = sample_round(data.train_indptr, data.train_items, data.exclude, users, n_negatives=n_negatives,
                           n_epochs=1, generator=torch.Generator().manual_seed(0))
    owner = torch.repeat_interleave(users, samples.indptr[1:] - samples.indptr[:-1])
    negative = samples.labels == 0
    return owner[negative].numpy(), samples.items[negative].numpy()


def test_pfedrec_sampling_hands_over_the_heldout_items_and_never_draws_them(synth):
    root, card = synth
    track = FedRecTrack()
    strict = track.load_train(root, card, "tiny", track.budget("smoke"))
    assert strict.heldout_items is None
    pfedrec = track.load_train(root, card, "tiny", track.budget("smoke", training_negatives="all"))
    truth = track.load_truth(root, card, "tiny", track.budget("smoke"))
    assert np.array_equal(pfedrec.heldout_items, np.stack([pfedrec.val_candidates[:, 0], truth.test_items], 1))
    for train, drawn in ((strict, True), (pfedrec, False)):
        owner, items = _negatives_per_user(train)
        hits = (items == train.val_candidates[owner, 0]) | (items == truth.test_items[owner])
        assert bool(hits.any()) is drawn  # by default held-out items can be drawn; under "all" never


def test_unknown_training_negatives_is_refused(synth):
    root, card = synth
    track = FedRecTrack()
    with pytest.raises(BudgetError, match=r"training_negatives must be one of train, all; got 'test'"):
        track.load_train(root, card, "tiny", track.budget("smoke", training_negatives="test"))


def test_the_plan_fingerprint_joins_the_split_protocol_version(synth, data_root, monkeypatch):
    from harness.cards import dataset_fingerprint

    plan = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["popularity"])
    assert plan.fingerprint != dataset_fingerprint(plan.root)  # the data and the protocol of its split
    monkeypatch.setattr(FedRecTrack, "protocol_version", "next")
    other = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["popularity"])
    assert other.fingerprint != plan.fingerprint and other.jobs[0].key != plan.jobs[0].key  # never resumed


def test_protocol_text_follows_the_cards_timestamps():
    track = FedRecTrack()
    assert track.protocol(load_card("synth_movielens")).startswith("leave-one-out by time")
    text = track.protocol(load_card("lastfm_2k"))
    assert text.startswith("the data records no time: each user's test and validation items are drawn at random")
    assert "independent of the order of the file's lines" in text and "split protocol v2" in text


def _truth(n_users=3, n_items=6, n_rounds=2):
    candidates = np.array([[0, 1, 2], [3, 4, 5], [1, 2, 3]])
    seen = np.zeros((n_users, n_items), dtype=bool)
    seen[0, 5] = seen[1, 0] = True
    return FedRecTruth(candidates, np.array([1, 4, 3]), seen, np.array([0, 2]), n_rounds)


def _predictions(*, sampled=None, full=None, emb=None, personal=None, up=(1.0, 2.0)):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 3)) if emb is None else emb
    return Predictions.of(
        sampled_scores=np.array([[0.1, 0.9, 0.2], [0.5, 0.4, 0.6], [0.3, 0.3, 0.3]]) if sampled is None else sampled,
        full_scores=np.tile(np.arange(6, dtype=float), (3, 1)) if full is None else full,
        item_emb_global=emb, item_emb_personal=np.stack([emb, emb * 2]) if personal is None else personal,
        val_hr=np.array([0.2, 0.5]), bytes_up=np.array(up), bytes_down=np.array([2**20, 2**20]),
    )


def test_evaluate_against_hand_computed_ranks(monkeypatch):
    import harness.tracks.fedrec.track as fedrec

    monkeypatch.setattr(fedrec, "K", 1)  # top-1 makes the ranks visible by hand
    got = FedRecTrack().evaluate(_predictions(), _truth())
    # user 0: test item (col 1) ranks 1st; user 1: col 1 ranks 3rd; user 2: all tied, ties against it -> 3rd
    assert got["hr_at_10"] == pytest.approx(1 / 3) and got["ndcg_at_10"] == pytest.approx(1 / 3)
    # full ranking, scores = item id: user 0 masks 5 -> ranks 4 > 3 > 2 > 1; test 1 is 4th
    assert got["full_hr_at_10"] == 0.0
    monkeypatch.setattr(fedrec, "K", 10)
    got = FedRecTrack().evaluate(_predictions(), _truth())
    truth = _truth()
    relevance = truth.candidates == truth.test_items[:, None]
    assert got["hr_at_10"] == 1.0 and got["ndcg_at_10"] == pytest.approx(ndcg_at_k(_predictions()["sampled_scores"],
                                                                                     relevance, k=10))
    full_rel = np.zeros((3, 6), dtype=bool)
    full_rel[[0, 1, 2], [1, 4, 3]] = True
    assert got["full_ndcg_at_10"] == pytest.approx(ndcg_at_k(np.tile(np.arange(6.0), (3, 1)), full_rel, k=10,
                                                             exclude=truth.seen))
    assert got["val_hr_at_10"] == 0.5 and got["upload_mb_per_round"] == pytest.approx(1.5 / 2**20)
    assert got["download_mb_per_round"] == 1.0
    assert got["srank_personal"] == pytest.approx(got["srank_global"])  # scaling a table keeps its ranks
    assert set(got) == set(FedRecTrack.metrics) and not any(m.startswith("spectrum") for m in got)
    diagnostics = FedRecTrack().diagnostics(_predictions(), _truth())
    assert set(diagnostics) == set(SPECTRA) and diagnostics["spectrum_global"].shape == (fedrec.N_SPECTRUM,)
    assert diagnostics["spectrum_global"][0] == 1.0 and diagnostics["spectrum_global"][3] == 0.0  # d = 3, padded


def test_per_user_results_resample_to_the_evaluated_metrics():
    track, predictions, truth = FedRecTrack(), _predictions(), _truth()
    got = track.evaluate(predictions, truth)
    items = track.item_results(predictions, truth)
    assert all(len(v) == 3 for v in items.values())
    once = track.resample_metrics(items, np.ones((1, 3)))
    for metric, values in once.items():
        assert values[0] == pytest.approx(got[metric]), metric
    doubled = track.resample_metrics(items, np.array([[2.0, 0.0, 1.0]]))
    assert doubled["hr_at_10"][0] == pytest.approx((2 * items["hit"][0] + items["hit"][2]) / 3)


def test_spectrum_of_a_collapsed_table():
    table = np.outer(np.arange(1.0, 6.0), [1.0, 2.0, 3.0])
    assert spectrum(table, 4)[1] < 1e-12 and spectrum(np.zeros((3, 2)), 2).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampled": np.zeros((3, 2))}, r"sampled_scores'\] must have shape \(3, 100\)"),
        ({"full": np.full((3, 6), np.nan)}, r"full_scores'\] must be finite"),
        ({"personal": np.zeros((1, 6, 3))}, r"item_emb_personal'\] must have shape \(2, 6, 3\)"),
        ({"up": (1.0, -1.0)}, r"bytes_up'\] must be >= 0 bytes"),
    ],
)
def test_invalid_predictions_name_the_array(kwargs, message):
    truth = _truth()
    truth.candidates = np.zeros((3, 100), dtype=np.int64)
    kwargs.setdefault("sampled", np.zeros((3, 100)))
    with pytest.raises(InvalidPredictionError, match=message):
        FedRecTrack().validate(_predictions(**kwargs), truth)


def test_smoke_grid_through_the_runner_then_leaderboard_and_figure(synth, data_root, tmp_path):
    pytest.importorskip("matplotlib")
    from harness.cli.leaderboard import write_track_leaderboard

    plan = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=E2E_METHODS)
    assert {j.subset for j in plan.jobs} == {"tiny"} and len(plan.jobs) == len(E2E_METHODS)
    summary = run_plan(plan, Store(tmp_path), progress=False, n_jobs=2)
    assert summary.counts == {"ok": len(E2E_METHODS)}, summary.failed
    rows = Store(tmp_path).read("fedrec")
    hr = rows[rows["metric"] == "hr_at_10"].set_index("method")["value"]
    assert ((hr >= 0) & (hr <= 1)).all() and hr["popularity"] > 0.1
    logs = " ".join(p.read_text() for p in (tmp_path / "runs" / "fedrec" / "logs").glob("*.log"))
    assert "dropped 3 user(s) with fewer than 3 interactions" in logs
    md = write_track_leaderboard(FedRecTrack(), tmp_path, budget="smoke").read_text()
    assert "![synth_movielens-tiny-spectra](fedrec/synth_movielens-tiny-spectra.png)" in md and "spectrum_" not in md
    assert "- protocol: leave-one-out by time: each user's last interaction is the test item" in md
    assert (tmp_path / "leaderboards" / "fedrec" / "synth_movielens-tiny-spectra.png").stat().st_size > 10_000
    again = plan_run("fedrec", budget="smoke", data_root=data_root, method_names=["fedmf"])
    assert again.fingerprint == plan.fingerprint  # the stored split does not change the folder's fingerprint
    run_plan(again, Store(tmp_path / "again"), progress=False)
    first = rows[rows["method"] == "fedmf"].set_index("metric")["value"]
    second = Store(tmp_path / "again").read("fedrec").set_index("metric")["value"]
    assert first.loc[["hr_at_10", "full_ndcg_at_10", "erank_global"]].equals(
        second.loc[["hr_at_10", "full_ndcg_at_10", "erank_global"]])


def test_the_track_runs_on_a_read_only_dataset_folder(tmp_path):
    source = write_lastfm(tmp_path / "data" / "lastfm_2k", lastfm_lines())
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    outcome, cache, results = run_on_read_only_view(source.parent, tmp_path, track="fedrec", dataset="lastfm_2k",
                                                    method="popularity")
    assert outcome["counts"] == {"ok": 1}, outcome
    rows = Store(results).read("fedrec")
    hr = float(rows.loc[rows["metric"] == "hr_at_10", "value"].iloc[0])
    assert rows["subset"].unique().tolist() == [SUBSET] and 0.0 < hr <= 1.0
    assert list((cache / "fedrec" / "lastfm_2k" / SUBSET).glob("v*/summary.json"))  # the split went to the cache
    assert {p: p.read_bytes() for p in source.rglob("*") if p.is_file()} == before  # the data is as it was
