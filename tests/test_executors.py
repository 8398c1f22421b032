"""The executor interface: the runner plans and scores, an executor runs; the local pool measures own memory."""

from __future__ import annotations

import re

import pytest

from harness.executors import Executor, LocalExecutor, Outcome, Task
from harness.executors.memory import CgroupMemory, ResidentMemory, open_job_memory
from harness.runner import plan_run, run_plan
from harness.store import Store


class RecordingExecutor(Executor):
    """Runs through a local pool of one slot and records what the runner asked of it."""

    def __init__(self) -> None:
        self.inner = LocalExecutor(1)
        self.n_slots = 1
        self.calls: list[str] = []

    def open(self, preload: list[str]) -> None:
        self.calls.append("open")
        self.preload = preload
        self.inner.open(preload)

    def submit(self, task: Task) -> None:
        assert self.n_running < self.n_slots  # the runner never overfills the slots
        self.calls.append(f"submit {task.job.method}")
        self.inner.submit(task)

    def wait(self, timeout_s: float) -> list[Outcome]:
        return self.inner.wait(timeout_s)

    @property
    def n_running(self) -> int:
        return self.inner.n_running

    def shutdown(self, *, kill: bool) -> None:
        self.calls.append(f"shutdown kill={kill}")
        self.inner.shutdown(kill=kill)


def test_the_runner_hands_every_pending_job_to_the_executor_it_is_given(tmp_path, data_root):
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-centroid", "toy-noop"],
                    subsets=["easy"])
    executor = RecordingExecutor()
    summary = run_plan(plan, Store(tmp_path), progress=False, executor=executor)
    assert dict(summary.counts) == {"ok": 2}
    assert executor.calls == ["open", "submit toy-centroid", "submit toy-noop", "shutdown kill=False"]
    assert executor.preload[0] == "harness._quiet" and "harness.tracks.toy.track" in executor.preload


def test_a_job_is_charged_its_own_memory_not_the_pages_it_shares_with_the_fork_server(tmp_path, data_root):
    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-noop"], subsets=["easy"])
    run_plan(plan, Store(tmp_path), progress=False)
    rows = Store(tmp_path).read("toy")
    log = (Store(tmp_path).track_dir("toy") / rows["log_path"].iloc[0]).read_text()
    resident = float(re.search(r"peak resident (\d+) MiB", log).group(1))
    own = float(re.search(r"peak own memory (\d+) MiB \(accounted by ", log).group(1))
    assert own < resident  # the imported libraries stay the fork server's
    assert rows["peak_memory_mb"].iloc[0] == pytest.approx(own, abs=1)


def _hold(mib: int, go, ready, done) -> None:
    go.wait(30)
    block = bytearray(mib * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touch every page
    ready.set()
    done.wait(30)


@pytest.mark.parametrize("kind", ["cgroup", "resident"])
def test_job_memory_counts_what_a_process_allocates(kind):
    import multiprocessing

    memory = open_job_memory() if kind == "cgroup" else ResidentMemory()
    if kind == "cgroup" and not isinstance(memory, CgroupMemory):
        pytest.skip("no writable memory cgroup on this machine")
    ctx = multiprocessing.get_context("fork")
    go, ready, done = ctx.Event(), ctx.Event(), ctx.Event()
    process = ctx.Process(target=_hold, args=(200, go, ready, done))
    try:
        process.start()
        memory.attach(process.pid)
        assert memory.sample(process.pid) < 50  # the pages it shares with this process are not its own
        go.set()
        assert ready.wait(30)
        assert 190 <= memory.sample(process.pid) <= 260
    finally:
        done.set()
        process.join(30)
        memory.close()


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")
def test_cuda_jobs_record_their_peak_device_memory_and_the_limit_applies(tmp_path, data_root):
    from harness.registry import methods

    plan = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-cuda-alloc"], subsets=["easy"],
                    overrides={"memory_limit_mb": 4096, "time_limit_s": 60.0})
    run_plan(plan, Store(tmp_path / "a"), progress=False, device="cuda")
    rows = Store(tmp_path / "a").read("toy")
    assert (rows["status"] == "ok").all() and rows["peak_device_memory_mb"].iloc[0] >= 64
    methods.register("toy-cuda-alloc", "engine_faults:AllocatesOnDevice", replace=True, track="toy",
                     config={"mib": 8192}, kind="baseline")
    try:
        too_much = plan_run("toy", budget="smoke", data_root=data_root, method_names=["toy-cuda-alloc"],
                            subsets=["easy"], overrides={"memory_limit_mb": 4096, "time_limit_s": 60.0})
        run_plan(too_much, Store(tmp_path / "b"), progress=False, device="cuda")
    finally:
        methods.register("toy-cuda-alloc", "engine_faults:AllocatesOnDevice", replace=True, track="toy",
                         config={}, kind="baseline")
    assert set(Store(tmp_path / "b").read("toy")["status"]) == {"oom"}
