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
