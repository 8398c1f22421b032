import math

import numpy as np
import pandas as pd
import pytest

from harness import stats
from harness.errors import ResultsError
from harness.leaderboard import (
    MEAN_SUBSET,
    aggregate,
    build_board,
    format_cell,
    render_markdown,
    select_rows,
    write_board,
    write_leaderboard,
)

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


def test_mean_std_and_t_interval_over_seeds_and_average_over_subsets():
    from scipy import stats as scipy_stats

    table = aggregate(_rows(GRID), METRICS).set_index(["subset", "method", "metric"])
    cell = table.loc[("s1", "m", "acc")]
    assert cell["mean"] == pytest.approx(0.8) and cell["std"] == pytest.approx(0.1 * 2**0.5) and cell["status"] == "ok"
    ref = scipy_stats.t.interval(0.95, 1, loc=0.8, scale=scipy_stats.sem([0.9, 0.7]))
    assert (cell["low"], cell["high"]) == pytest.approx(ref) and cell["interval"] == "t"
    avg = table.loc[(MEAN_SUBSET, "m", "acc")]
    # per seed: seed0 (0.9+0.5)/2=0.7, seed1 (0.7+0.5)/2=0.6
    assert avg["mean"] == pytest.approx(0.65) and avg["std"] == pytest.approx(0.05 * 2**0.5)
    one_seed = table.loc[("s1", "b", "acc")]  # the other seed timed out: no interval from one value
    assert one_seed["interval"] == "none" and math.isnan(one_seed["low"])


def test_bootstrap_interval_from_replicates_and_its_subset_average():
    rng = np.random.default_rng(0)
    replicates = {("d", s, m, seed): {"acc": rng.normal(0.6, 0.05, 200)}
                  for s in ("s1", "s2") for m in ("m", "b", "x") for seed in (0, 1)}
    table = aggregate(_rows(GRID), METRICS, replicates).set_index(["subset", "method", "metric"])
    cell = table.loc[("s1", "m", "acc")]
    reps = np.stack([replicates[("d", "s1", "m", 0)]["acc"], replicates[("d", "s1", "m", 1)]["acc"]])
    assert cell["interval"] == "bootstrap"
    assert (cell["low"], cell["high"]) == pytest.approx(stats.interval([0.9, 0.7], reps)[:2])
    avg = table.loc[(MEAN_SUBSET, "m", "acc")]
    per_seed = np.stack([(replicates[("d", "s1", "m", s)]["acc"] + replicates[("d", "s2", "m", s)]["acc"]) / 2
                         for s in (0, 1)])
    assert (avg["low"], avg["high"]) == pytest.approx(stats.interval([0.7, 0.6], per_seed)[:2])
    assert table.loc[("s1", "m", "loss"), "interval"] == "t"  # no replicates of loss


def test_failed_cells_are_marked_not_dropped():
    table = aggregate(_rows(GRID), METRICS).set_index(["subset", "method", "metric"])
    assert table.loc[("s1", "x", "acc"), "status"] == "error"
    assert table.loc[("s1", "b", "acc"), "status"] == "partial"
    assert table.loc[("s1", "b", "acc"), "n_ok"] == 1
    assert table.loc[(MEAN_SUBSET, "x", "acc"), "status"] == "error"
    assert table.loc[(MEAN_SUBSET, "b", "acc"), "status"] == "partial"


def test_a_metric_undefined_on_every_ok_job_is_an_ok_cell_without_a_value():
    """A metric a dataset cannot define (the multi-object recall of one-object images) leaves ok jobs NaN."""
    rows = _rows([("s1", "m", 0, "ok", 0.9, math.nan), ("s1", "m", 1, "ok", 0.7, math.nan)])
    table = aggregate(rows, METRICS).set_index(["subset", "method", "metric"])
    for subset in ("s1", MEAN_SUBSET):
        assert table.loc[(subset, "m", "loss"), "status"] == "ok"
        assert math.isnan(table.loc[(subset, "m", "loss"), "mean"])
    assert table.loc[(MEAN_SUBSET, "m", "acc"), "mean"] == pytest.approx(0.8)


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
    assert format_cell(0.91234, 0.9, 0.93, "ok", 3, 3) == "0.912 [0.900, 0.930]"
    assert format_cell(0.9, math.nan, math.nan, "ok", 1, 1) == "0.900"
    assert format_cell(0.9, 0.8, 1.0, "partial", 2, 3) == "0.900 [0.800, 1.000] (1/3 failed)"
    assert format_cell(math.nan, math.nan, math.nan, "timeout", 0, 3) == "TIMEOUT"
    assert format_cell(0.00123, 0.001, 0.0015, "ok", 2, 2) == "0.00123 [0.001, 0.0015]"


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
    assert "Friedman test over 4 blocks (subset x seed) of 3 methods" in md and "≈ best" in md
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


def test_header_states_each_datasets_protocol():
    rows = _rows(GRID)
    assert "protocol" not in build_board(rows, track="t", metrics=METRICS, budget="default").header
    board = build_board(rows, track="t", metrics=METRICS, budget="default", protocol={"d": "random held-out item"})
    assert board.header["protocol"] == "random held-out item"
    two = pd.concat([rows, rows.assign(dataset="e", job_key=rows["job_key"] + "e")])
    board = build_board(two, track="t", metrics=METRICS, budget="default", protocol={"d": "by time", "e": "random"})
    assert board.header["protocol"] == "d: by time | e: random"
    assert "- protocol: d: by time | e: random" in render_markdown(board)


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


def _significance_grid(n_subsets=6, n_seeds=3):
    """m best everywhere, m-abl (its ablation) close, b1 and b2 baselines clearly worse."""
    spec = []
    for s in range(n_subsets):
        for seed in range(n_seeds):
            base = 0.5 + 0.01 * s
            for method, shift in (("m", 0.2), ("m-abl", 0.19), ("b1", 0.0), ("b2", -0.05)):
                spec.append((f"s{s}", method, seed, "ok", base + shift + 0.001 * seed, 0.1))
    rows = _rows(spec)
    rows["method_kind"] = rows["method"].map(lambda m: "baseline" if m.startswith("b") else "method")
    return rows


def test_board_marks_the_methods_tied_with_the_best_and_draws_the_cd_diagram(tmp_path):
    rows = _significance_grid()
    board = build_board(rows, track="t", metrics=METRICS, budget="default")
    test = board.tests["d"]
    assert test.test == "friedman+nemenyi" and test.n_blocks == 18 and test.methods[0] == "m"
    assert test.tied_with_best == ["m", "m-abl"]  # adjacent ranks: within the critical difference
    md = render_markdown(board)
    first = md.split("## d: main metrics and costs")[1].split("Rank test")[0]
    assert "| best " in first and "| ≈ " in first
    _, md_path = write_board(board, tmp_path)
    assert (tmp_path / "t" / "cd-d-default.png").is_file()
    assert "![critical-difference diagram](t/cd-d-default.png)" in md_path.read_text()


def test_paired_comparisons_against_ablations_and_the_best_baseline(monkeypatch):
    from harness import registry

    registry.methods.register("cmp-full", "harness.tracks.toy:NearestCentroid", track="toy", config={}, kind="method")
    registry.methods.register("cmp-abl", "harness.tracks.toy:NearestCentroid", track="toy",
                              config={"shrinkage": 0.5}, kind="method")
    try:
        rows = _significance_grid().replace({"method": {"m": "cmp-full", "m-abl": "cmp-abl"}})
        rng = np.random.default_rng(0)
        noise = {(s, seed): rng.normal(0, 0.02, 300) for s in rows["subset"].unique() for seed in range(3)}
        replicates = {}
        for r in rows[rows["metric"] == "acc"].itertuples():
            replicates[("d", r.subset, r.method, r.seed)] = {"acc": r.value + noise[(r.subset, r.seed)]}
        board = build_board(rows, track="t", metrics=METRICS, budget="default", replicates=replicates)
        comparisons = board.comparisons.set_index(["method", "against"])
        abl = comparisons.loc[("cmp-full", "cmp-abl")]
        assert abl["relation"] == "ablation" and abl["test"] == "paired bootstrap"
        assert abl["difference"] == pytest.approx(0.01) and abl["low"] > 0  # the shared noise cancels
        best = comparisons.loc[("cmp-full", "b1")]
        assert best["relation"] == "best baseline" and best["difference"] == pytest.approx(0.2, abs=1e-3)
        assert ("cmp-abl", "cmp-full") not in comparisons.index  # an ablation is not compared as a full method
        assert (comparisons["p_holm"] >= comparisons["p"]).all()
        assert "paired comparisons on acc" in render_markdown(board)
    finally:
        for name in ("cmp-full", "cmp-abl"):
            registry.methods._entries.pop(name, None)
