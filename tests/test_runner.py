import dataclasses
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from engine_faults import parbench_command

from harness.cards import load_card, resolve_dataset
from harness.errors import ResultsError
from harness.registry import methods_of
from harness.runner import plan_run, run_plan
from harness.store import Store
from harness.tracks.toy import ToyTrack

#: Time and memory limits small enough to keep fault-injection tests fast.
FAST_LIMITS = {"time_limit_s": 8.0, "memory_limit_mb": 600}


def _run(results, data_root, **kwargs):
    plan = plan_run("toy", budget="smoke", data_root=data_root, overrides=FAST_LIMITS, **kwargs)
    summary = run_plan(plan, Store(results), progress=False, n_jobs=2)
    return plan, summary, Store(results).read("toy")


@pytest.fixture(scope="module")
def fault_grid(tmp_path_factory, data_root):
    results = tmp_path_factory.mktemp("results")
    names = [name for name in methods_of("toy") if name not in ("toy-peek", "toy-cuda-alloc")]
    plan, summary, rows = _run(results, data_root, subsets=["easy"], method_names=names)
    return results, plan, summary, rows.drop_duplicates("job_key").set_index("method")


@pytest.mark.parametrize(
    ("method", "status", "error"),
    [
        ("toy-centroid", "ok", ""),
        ("toy-raise", "error", "RuntimeError: toy-raise fails on purpose"),
        ("toy-hang", "timeout", "the budget allows 8 s"),
        ("toy-oom", "oom", "the budget allows 600 MiB"),
        ("toy-nan", "invalid", r"predictions\['scores'\] must be finite; got nan at index \(0,\)"),
        ("toy-badshape", "invalid", r"predictions\['labels'\] must have shape \(40,\); got \(39,\)"),
    ],
)
def test_each_fault_becomes_its_status_and_the_grid_goes_on(fault_grid, method, status, error):
    _, plan, summary, jobs = fault_grid
    assert len(jobs) == len(plan.jobs)  # every job stored despite the failures
    assert jobs.loc[method, "status"] == status
    if error:
        import re

        assert re.search(error, jobs.loc[method, "error"]), jobs.loc[method, "error"]


def test_failed_jobs_keep_one_row_per_metric_with_provenance(fault_grid):
    results, _, _, _ = fault_grid
    rows = Store(results).read("toy")
    assert (rows.groupby("job_key").size() == len(ToyTrack().all_metrics)).all()
    failed = rows[rows["status"] != "ok"]
    assert failed["value"].isna().all()
    for column in ("git_commit", "versions", "budget_hash", "fingerprint", "device"):
        assert rows[column].notna().all() and (rows[column] != "").all(), column
    assert (rows.loc[rows["status"] == "ok", "fit_s"] >= 0).all()
    log = Store(results).track_dir("toy") / rows.loc[rows["method"] == "toy-raise", "log_path"].iloc[0]
    assert "fails on purpose" in log.read_text()


def test_resume_skips_ok_jobs_and_rerun_failed_retries_the_rest(fault_grid, data_root):
    results, plan, summary, jobs = fault_grid
    n_failed = int((jobs["status"] != "ok").sum())
    again = run_plan(plan, Store(results), progress=False)
    assert again.skipped == len(plan.jobs) and sum(again.counts.values()) == 0
    plan_ok = plan_run("toy", budget="smoke", data_root=data_root, overrides=FAST_LIMITS, subsets=["easy"],
                       method_names=["toy-centroid", "toy-raise", "toy-nan"])
    retried = run_plan(plan_ok, Store(results), progress=False, rerun_failed=True)
    assert retried.skipped == 1 and retried.counts == {"error": 1, "invalid": 1}
    assert n_failed >= 2


def test_same_seed_same_numbers_other_seed_other_numbers(tmp_path, data_root):
    kwargs = {"method_names": ["toy-centroid"], "subsets": ["hard"]}
    _, _, first = _run(tmp_path / "a", data_root, seeds=[3], **kwargs)
    _, _, second = _run(tmp_path / "b", data_root, seeds=[3], **kwargs)
    _, _, other = _run(tmp_path / "c", data_root, seeds=[4], **kwargs)
    def value(rows):
        return rows[rows["metric"].isin(list(ToyTrack.metrics))].set_index("metric")["value"]

    assert value(first).equals(value(second))
    assert value(first)["brier"] != value(other)["brier"]


def test_unwritable_results_folder_is_one_clear_error(tmp_path, data_root):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"])
    with pytest.raises(ResultsError, match=r"results folder .*file/runs/toy is not writable.*--results"):
        run_plan(plan, Store(blocker), progress=False)


def _files(results: Path) -> list[Path]:
    return sorted((results / "runs" / "toy").glob("*.parquet"))


def test_sigkill_at_any_moment_then_resume_runs_every_job_exactly_once(tmp_path, data_root):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "harness", "run", "toy", "--budget", "smoke", "--methods",
           "toy-centroid,toy-noop", "--seeds", "0,1,2,3,4,5", "--jobs", "2", "--no-progress",
           "--results", str(results), "--data-root", str(data_root)]  # built-in methods only: no registration
    rng = random.Random(7)
    orphans = []
    for _ in range(4):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.0))
        orphans += psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    subprocess.run(cmd, check=True, capture_output=True)
    files = _files(results)
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid", "toy-noop"],
                    seeds=[0, 1, 2, 3, 4, 5])
    assert sorted(f.stem for f in files) == sorted(j.key for j in plan.jobs)
    rows = Store(results).read("toy")  # every file readable
    assert (rows["status"] == "ok").all()
    assert (rows.groupby("job_key").size() == len(ToyTrack().all_metrics)).all()
    assert not list((results / "runs" / "toy").glob(".tmp-*"))
    # a killed runner leaves no fork server or job process behind
    _, alive = psutil.wait_procs(orphans, timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_sigkill_of_the_runner_ends_a_hanging_job_and_the_fork_server(tmp_path, data_root):
    cmd = parbench_command("run", "toy", "--budget", "smoke", "--methods", "toy-hang", "--set", "time_limit_s=120",
                           "--no-progress", "--results", str(tmp_path), "--data-root", str(data_root))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runner = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while len(runner.children(recursive=True)) < 2 and time.monotonic() < deadline:  # fork server + job
        time.sleep(0.1)
    descendants = runner.children(recursive=True)
    assert len(descendants) >= 2
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(descendants, timeout=10)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_inputs_loader_of_every_subset_exposes_no_truth(data_root):
    card = load_card("toy_blobs")
    root = resolve_dataset(card, data_root)
    track = ToyTrack()
    budget = track.budget("smoke")
    for subset in track.subsets(root, card):
        assert [f.name for f in dataclasses.fields(track.load_test_inputs(root, card, subset, budget))] == ["features"]


def test_rows_carry_the_code_state_of_the_run_start(tmp_path, data_root, monkeypatch):
    import harness.runner as runner_module  # noqa: PLC0415 - patched below

    calls = []

    def state(*args, **kwargs):  # clean as the run starts, dirty for anyone who asks later
        calls.append(kwargs.get("fresh", False))
        return "abc123", len(calls) > 1

    monkeypatch.setattr(runner_module, "git_state", state)
    _, _, rows = _run(tmp_path, data_root, method_names=["toy-centroid"], subsets=["easy"])
    assert calls == [True]
    assert set(rows["git_commit"]) == {"abc123"} and not rows["git_dirty"].any()


def test_the_track_warms_up_once_before_the_jobs_and_a_failed_warm_up_only_warns(tmp_path, data_root, monkeypatch,
                                                                                  caplog):
    calls = []
    monkeypatch.setattr(ToyTrack, "warm_up", lambda self: calls.append(self.name))
    kwargs = {"method_names": ["toy-centroid"], "subsets": ["easy"]}
    _run(tmp_path / "a", data_root, **kwargs)
    _run(tmp_path / "a", data_root, **kwargs)  # nothing pending: no warm-up
    assert calls == ["toy"]

    def broken(self):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(ToyTrack, "warm_up", broken)
    _, summary, rows = _run(tmp_path / "b", data_root, **kwargs)
    assert dict(summary.counts) == {"ok": 1} and (rows["status"] == "ok").all()
    assert "warm-up failed (RuntimeError: no compiler here)" in caplog.text


def test_a_budgets_subsets_apply_to_its_own_dataset_only(data_root, monkeypatch):
    monkeypatch.setattr(ToyTrack, "budget_subsets", {"smoke": ("hard",)})
    own = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid"])
    assert {j.subset for j in own.jobs} == {"hard"}
    monkeypatch.setattr(ToyTrack, "budget_datasets", {"smoke": "another_dataset"})  # toy_blobs is not the budget's
    other = plan_run("toy", budget="smoke", dataset="toy_blobs", data_root=data_root, method_names=["toy-centroid"])
    assert {j.subset for j in other.jobs} == {"easy", "hard"}  # the preset names another dataset's subsets
