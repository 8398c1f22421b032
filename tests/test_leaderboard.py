import math

import pandas as pd
import pytest

from harness.errors import ResultsError
from harness.leaderboard import MEAN_SUBSET, aggregate, format_cell, select_rows, write_leaderboard

METRICS = {"acc": True, "loss": False}


def _rows(spec):
    """spec: list of (subset, method, seed, status, acc, loss)."""
    rows = []
    for subset, method, seed, status, acc, loss in spec:
        for metric, value in (("acc", acc), ("loss", loss)):
            rows.append({
                "job_key": f"{subset}{method}{seed}", "dataset": "d", "subset": subset, "method": method,
                "method_kind": "baseline" if method.startswith("b") else "method", "seed": seed, "metric": metric,
                "value": value if status == "ok" else math.nan, "status": status, "budget": "default",
                "budget_hash": "h1", "fingerprint": "f1", "git_commit": "abc", "git_dirty": False, "device": "cpu",
            })
    return pd.DataFrame(rows)


GRID = [
    ("s1", "m", 0, "ok", 0.9, 0.1), ("s1", "m", 1, "ok", 0.7, 0.3),
    ("s2", "m", 0, "ok", 0.5, 0.5), ("s2", "m", 1, "ok", 0.5, 0.5),
    ("s1", "b", 0, "ok", 0.6, 0.4), ("s1", "b", 1, "timeout", 0, 0),
    ("s2", "b", 0, "ok", 0.6, 0.4), ("s2", "b", 1, "ok", 0.8, 0.2),
    ("s1", "x", 0, "error", 0, 0), ("s1", "x", 1, "error", 0, 0),
    ("s2", "x", 0, "ok", 1.0, 0.0), ("s2", "x", 1, "ok", 1.0, 0.0),
]


def test_mean_std_over_seeds_and_average_over_subsets():
    table = aggregate(_rows(GRID), METRICS).set_index(["subset", "method", "metric"])
    cell = table.loc[("s1", "m", "acc")]
    assert cell["mean"] == pytest.approx(0.8) and cell["std"] == pytest.approx(0.1) and cell["status"] == "ok"
    avg = table.loc[(MEAN_SUBSET, "m", "acc")]
    # per seed: seed0 (0.9+0.5)/2=0.7, seed1 (0.7+0.5)/2=0.6
    assert avg["mean"] == pytest.approx(0.65) and avg["std"] == pytest.approx(0.05)


def test_failed_cells_are_marked_not_dropped():
    table = aggregate(_rows(GRID), METRICS).set_index(["subset", "method", "metric"])
    assert table.loc[("s1", "x", "acc"), "status"] == "error"
    assert table.loc[("s1", "b", "acc"), "status"] == "partial"
    assert table.loc[("s1", "b", "acc"), "n_ok"] == 1
    assert table.loc[(MEAN_SUBSET, "x", "acc"), "status"] == "error"
    assert table.loc[(MEAN_SUBSET, "b", "acc"), "status"] == "partial"


def test_rank_by_main_metric_failed_last():
    table = aggregate(_rows(GRID), METRICS)
    s2 = table[(table["subset"] == "s2") & (table["metric"] == "acc")].set_index("method")["rank"]
    assert s2.to_dict() == {"x": 1, "b": 2, "m": 3}
    mean = table[(table["subset"] == MEAN_SUBSET) & (table["metric"] == "acc")].set_index("method")["rank"]
    assert mean["m"] == 1 and mean["x"] == mean["b"] == 2  # incomplete averages rank last, tied


def test_lower_is_better_main_metric_ranks_ascending():
    table = aggregate(_rows(GRID), {"loss": False, "acc": True})
    s2 = table[(table["subset"] == "s2") & (table["metric"] == "loss")].set_index("method")["rank"]
    assert s2.to_dict() == {"x": 1, "b": 2, "m": 3}


def test_format_cell():
    assert format_cell(0.91234, 0.01, "ok", 3, 3) == "0.912 ± 0.010"
    assert format_cell(0.9, 0.0, "ok", 1, 1) == "0.900"
    assert format_cell(0.9, 0.1, "partial", 2, 3) == "0.900 ± 0.100 (1/3 failed)"
    assert format_cell(math.nan, math.nan, "timeout", 0, 3) == "TIMEOUT"


def test_refuses_to_mix_budget_versions_and_fingerprints():
    rows = _rows(GRID)
    mixed = rows.copy()
    mixed.loc[mixed["method"] == "x", "budget_hash"] = "h2"
    with pytest.raises(ResultsError, match="mix 2 versions of budget 'default'"):
        select_rows(mixed, budget="default", track="t")
    other = rows.copy()
    other.loc[other["method"] == "x", "fingerprint"] = "f2"
    with pytest.raises(ResultsError, match="2 different copies of the data"):
        select_rows(other, budget="default", track="t")
    with pytest.raises(ResultsError, match="no results of track 't' under budget 'paper'"):
        select_rows(rows, budget="paper", track="t")


def test_write_leaderboard_files(tmp_path):
    csv_path, md_path = write_leaderboard(_rows(GRID), track="t", metrics=METRICS, budget="default", out_dir=tmp_path)
    csv = pd.read_csv(csv_path)
    assert set(csv.columns) >= {"dataset", "subset", "method", "metric", "mean", "std", "status", "rank"}
    md = md_path.read_text()
    assert "| rank" in md and "ERROR" in md and "(1/2 failed)" in md and "budget: default (hash h1)" in md
    section = md.split("every metric per subset")[1]
    assert "#### s1" in section and "#### s2" in section
    s2_table = section.split("#### s2")[1]
    assert "loss ↓" in s2_table and "| 1.000" in s2_table  # x scores 1.0 on s2, every metric shown


def test_header_names_the_fields_set_otherwise_than_the_preset(tmp_path):
    rows = _rows(GRID).assign(budget_json='{"lr": 0.5, "n_rounds": 40, "name": "default", "seeds": [0, 1]}')
    preset = {"lr": 2.0, "n_rounds": 40, "name": "default", "seeds": [0]}
    _, md_path = write_leaderboard(rows, track="t", metrics=METRICS, budget="default", out_dir=tmp_path,
                                   preset=preset)
    assert "budget: default (hash h1); set otherwise than the preset: lr=0.5" in md_path.read_text()
    _, md_path = write_leaderboard(rows, track="t", metrics=METRICS, budget="default", out_dir=tmp_path,
                                   preset={**preset, "lr": 0.5})
    assert "- budget: default (hash h1)\n" in md_path.read_text()


def test_the_header_names_the_weights_by_content(tmp_path, data_root):
    from harness.leaderboard import write_leaderboard
    from harness.runner import plan_run, run_plan
    from harness.store import Store

    weights = tmp_path / "a.pth"
    weights.write_bytes(b"checkpoint bytes")
    moved = tmp_path / "moved.pth"
    moved.write_bytes(b"checkpoint bytes")
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid"], subsets=["easy"],
                    overrides={"weights": str(weights)})
    other = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid"], subsets=["easy"],
                     overrides={"weights": str(moved)})
    assert plan.budget.hash() == other.budget.hash()  # the same content at another path: the same budget
    moved.write_bytes(b"other bytes")
    changed = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid"], subsets=["easy"],
                       overrides={"weights": str(moved)})
    assert changed.budget.hash() != plan.budget.hash()
    store = Store(tmp_path / "results")
    run_plan(plan, store, progress=False)
    _, md = write_leaderboard(store.read("toy"), track="toy", metrics=plan.track.all_metrics, budget="smoke",
                              out_dir=tmp_path / "boards")
    assert f"- weights: {plan.budget.weights_id()}" in md.read_text()
    assert plan.budget.weights_id().startswith("sha256:")
