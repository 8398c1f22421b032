"""The Ray executor on a local Ray cluster of 2 CPUs: the same values as the local pool, the same statuses, the
same resume (a killed driver resumes with every job exactly once)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from engine_faults import FAULTS

from harness.api import COST_METRICS
from harness.executors import LocalExecutor
from harness.registry import methods_of
from harness.runner import plan_run, run_plan
from harness.store import Store

ray = pytest.importorskip("ray")
from harness.executors.ray_cluster import RayExecutor  # noqa: E402 - needs ray

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster():
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 2**20,
             runtime_env={"env_vars": {"PYTHONPATH": path}})  # workers import the fault methods from tests/
    yield ray
    ray.shutdown()


def _builtin(track):
    return [m for m in methods_of(track) if m not in FAULTS and not m.endswith("-peek")]


def _values(store, track):
    rows = store.read(track)
    rows = rows[~rows["metric"].isin(list(COST_METRICS)) & ~rows["metric"].str.endswith("_s")]  # not timings
    return rows.set_index(["subset", "method", "seed", "metric"])["value"].sort_index(), rows


@pytest.mark.parametrize("track", ["toy", "active", "fedrec", "anomaly"])
def test_smoke_grid_gives_the_values_of_the_local_pool(track, cluster, data_root, tmp_path):
    if track == "anomaly":
        pytest.importorskip("anomalib")
    if track == "active":
        pytest.importorskip("skactiveml")
    plan = plan_run(track, budget="smoke", data_root=data_root, method_names=_builtin(track))
    local, remote = Store(tmp_path / "local"), Store(tmp_path / "ray")
    first = run_plan(plan, local, progress=False, executor=LocalExecutor(2))  # one thread per job, as on Ray
    second = run_plan(plan, remote, progress=False, executor=RayExecutor(cpus_per_job=1))
    assert first.counts == second.counts == {"ok": len(plan.jobs)}, second.failed
    local_values, _ = _values(local, track)
    ray_values, rows = _values(remote, track)
    assert local_values.index.equals(ray_values.index)
    np.testing.assert_allclose(ray_values.to_numpy(), local_values.to_numpy(), rtol=0, atol=1e-9)
    assert set(rows["device"]) == {"cpu"}
    log = (remote.log_path(track, plan.jobs[0].key)).read_text()
    assert "ran on Ray node" in log and "peak own memory" in log
    for job in plan.jobs:  # per-item results travel back too
        assert remote.read_arrays(track, job.key, "item").keys() == local.read_arrays(track, job.key, "item").keys()


def test_faults_are_status_rows_and_a_second_run_skips_every_job(cluster, data_root, tmp_path):
    names = ["toy-hang", "toy-oom", "toy-raise", "toy-nan", "toy-centroid"]
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=names, subsets=["easy"])
    store = Store(tmp_path)
    summary = run_plan(plan, store, progress=False, executor=RayExecutor())
    assert summary.counts == {"timeout": 1, "oom": 1, "error": 1, "invalid": 1, "ok": 1}
    rows = store.read("toy").drop_duplicates("job_key").set_index("method")
    assert rows.loc["toy-hang", "status"] == "timeout" and "killed after" in rows.loc["toy-hang", "error"]
    assert rows.loc["toy-oom", "status"] == "oom"
    assert "RuntimeError: toy-raise fails on purpose" in rows.loc["toy-raise", "error"]
    again = run_plan(plan, store, progress=False, executor=RayExecutor())
    assert again.skipped == len(plan.jobs) and not again.counts


def test_a_node_without_the_data_folder_names_it(cluster, data_root, tmp_path):
    from harness.executors.ray_cluster import _run_on_worker

    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid"], subsets=["easy"])
    from harness.runner import _task

    task = _task(plan, plan.jobs[0], None, 1)
    task = type(task)(task.job, {**task.spec, "root": str(tmp_path / "elsewhere")}, 5.0, 600)
    result = _run_on_worker(task, ["harness.job"], None)
    assert result["exitcode"] == 1
    assert b"does not exist on node" in result["files"]["error.txt"]


def test_a_killed_driver_resumes_with_every_job_exactly_once(tmp_path, data_root):
    results = tmp_path / "results"
    cmd = [sys.executable, "-m", "harness", "run", "toy", "--budget", "smoke", "--methods", "toy-centroid,toy-noop",
           "--seeds", "0,1,2,3,4,5,6,7", "--executor", "ray", "--no-progress", "--results", str(results),
           "--data-root", str(data_root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list((results / "runs" / "toy").glob("*.parquet"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = {p.stem for p in (results / "runs" / "toy").glob("*.parquet")}
    assert stored, "no job finished before the kill"
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid", "toy-noop"],
                    seeds=list(range(8)))
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert f"{len(stored)} already stored" in done.stderr
    files = sorted(p.stem for p in (results / "runs" / "toy").glob("*.parquet"))
    assert files == sorted(j.key for j in plan.jobs)
    rows = Store(results).read("toy")
    assert (rows["status"] == "ok").all() and rows.groupby("job_key").size().nunique() == 1
    subprocess.run(["pkill", "-9", "-f", "ray::"], check=False)  # agents a SIGKILLed Ray driver leaves behind
