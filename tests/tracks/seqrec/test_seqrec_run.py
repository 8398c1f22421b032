"""The seqrec track end to end: the smoke grid through the runner, the leaderboard and its figures."""

from __future__ import annotations

import pytest

from harness.runner import plan_run, run_plan
from harness.store import Store
from harness.tracks.seqrec import SeqRecTrack

E2E_METHODS = ["seq-popularity", "sasrec", "cprec"]


@pytest.mark.slow
def test_smoke_grid_through_the_runner_then_leaderboard_and_figures(data_root, tmp_path):
    pytest.importorskip("transformers")
    from harness.cli.leaderboard import write_track_leaderboard

    plan = plan_run("seqrec", budget="smoke", data_root=data_root, method_names=E2E_METHODS)
    assert {j.subset for j in plan.jobs} == {"Books"} and len(plan.jobs) == len(E2E_METHODS)
    summary = run_plan(plan, Store(tmp_path), progress=False, n_jobs=2)
    assert summary.counts == {"ok": len(E2E_METHODS)}, summary.failed
    rows = Store(tmp_path).read("seqrec")
    ndcg = rows[rows["metric"] == "ndcg_at_10"].set_index("method")["value"]
    assert ((ndcg > 0) & (ndcg < 1)).all(), ndcg
    logs = " ".join(p.read_text() for p in (tmp_path / "runs" / "seqrec" / "logs").glob("*.log"))
    assert "by the 5-core filter" in logs and "1 malformed lines" in logs
    md = write_track_leaderboard(SeqRecTrack(), tmp_path, budget="smoke").read_text()
    assert "![synth_amazon-lm-curves](seqrec/synth_amazon-lm-curves.png)" in md
    assert "![synth_amazon-per-domain](seqrec/synth_amazon-per-domain.png)" in md
    assert "- protocol: per domain: repeated (user, item) pairs dropped" in md
    assert (tmp_path / "leaderboards" / "seqrec" / "synth_amazon-lm-curves.png").stat().st_size > 10_000


def _real_layouts(root):
    """Write the tiny synthetic set's Books domain as MovieLens-100K files and as Amazon 2023 files."""
    import json

    from harness.tracks.seqrec.loaders import load_amazon
    from harness.tracks.seqrec.synth import generate

    generate(root / "synth", preset="tiny")
    books = load_amazon(root / "synth").domains["Books"]
    users = {u: k + 1 for k, u in enumerate(sorted(set(books.users.tolist())))}
    items = {i: k + 1 for k, i in enumerate(sorted(books.titles))}
    ml = root / "movielens_100k_seq" / "ml-100k"
    ml.mkdir(parents=True)
    (ml / "u.data").write_text("".join(f"{users[u]}\t{items[i]}\t4\t{t}\n" for u, i, t in zip(
        books.users.tolist(), books.items.tolist(), books.times.tolist(), strict=True)))
    (ml / "u.item").write_bytes("".join(f"{items[i]}|{books.titles[i]} (1995)|01-Jan-1995||http://x|0|1\n"
                                        for i in sorted(items)).encode("latin-1"))
    amazon = root / "amazon_reviews"
    amazon.mkdir()
    (amazon / "Books.jsonl").write_text("".join(json.dumps(
        {"user_id": u, "asin": i, "parent_asin": i, "rating": 5.0, "timestamp": t * 1000}) + "\n" for u, i, t in zip(
        books.users.tolist(), books.items.tolist(), books.times.tolist(), strict=True)))
    (amazon / "meta_Books.jsonl").write_text("".join(json.dumps({"parent_asin": i, "title": t}) + "\n"
                                                     for i, t in books.titles.items()))
    return root


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "subset"), [("movielens_100k_seq", "ml-100k"), ("amazon_reviews", "Books")])
def test_the_track_runs_on_the_real_layouts(tmp_path, dataset, subset):
    root = _real_layouts(tmp_path)
    plan = plan_run("seqrec", budget="smoke", dataset=dataset, data_root=root, method_names=["seq-popularity",
                                                                                             "sasrec"])
    assert [j.subset for j in plan.jobs] == [subset, subset]
    summary = run_plan(plan, Store(tmp_path / "results"), progress=False)
    assert summary.counts == {"ok": 2}, summary.failed
    rows = Store(tmp_path / "results").read("seqrec")
    ndcg = rows[rows["metric"] == "ndcg_at_10"].set_index("method")["value"]
    assert 0 < ndcg["seq-popularity"] < 1 and 0 < ndcg["sasrec"] < 1


@pytest.mark.slow
def test_the_track_runs_on_a_read_only_dataset_folder(tmp_path):
    from read_only import run_on_read_only_view

    source = _real_layouts(tmp_path / "data") / "amazon_reviews"
    before = {p: p.read_bytes() for p in source.rglob("*") if p.is_file()}
    outcome, cache, _ = run_on_read_only_view(source, tmp_path, track="seqrec", dataset="amazon_reviews",
                                              method="cprec-no-mixed")
    assert outcome["counts"] == {"ok": 1}, outcome
    assert list((cache / "seqrec" / "amazon_reviews" / "all").glob("v*/summary.json"))  # the split went to the cache
    assert list((cache / "seqrec" / "lm-cpt").rglob("*"))  # and so did the pre-trained LM
    assert {p: p.read_bytes() for p in source.rglob("*") if p.is_file()} == before
