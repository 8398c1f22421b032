"""The local executor: jobs forked from a warm fork server on this machine, watched against their limits.

Every job is forked from ``multiprocessing``'s forkserver with the track's and methods' modules preloaded,
so a job that does nothing costs a few tens of milliseconds and the server never holds any test truth. The
executor polls each job every :data:`POLL_S`: past its wall-time limit it kills the job's process tree
(``timeout``), past its memory limit likewise (``oom``). Memory is the job's own (:mod:`harness.executors.memory`:
a cgroup per job where the machine allows, else resident memory above the job's start); pages it still shares
with the fork server (the imported libraries) are not counted.
"""

from __future__ import annotations

import multiprocessing
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.executors.base import Executor, Outcome, Task
from harness.executors.memory import JobMemory, ResidentMemory, open_job_memory
from harness.job import job_main

__all__ = ["POLL_S", "LocalExecutor", "kill_tree"]

#: Seconds between two checks of each job (its end, its wall time, its memory).
POLL_S = 0.02


def kill_tree(pid: int) -> None:
    """Send SIGKILL to a process and all its descendants."""
    import psutil

    try:
        proc = psutil.Process(pid)
        victims = [*proc.children(recursive=True), proc]
    except psutil.Error:
        return
    for victim in victims:
        try:
            victim.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue


@dataclass
class _Running:
    task: Task
    process: Any
    out_dir: Path
    started: float
    started_at: str
    memory: JobMemory
    peak_mb: float = 0.0
    killed: str = ""


class LocalExecutor(Executor):
    """Runs up to ``n_jobs`` jobs at once in child processes of a fork server.

    Args:
        n_jobs: Jobs run at once.
        scratch: Folder under which each job gets a scratch folder of a random name (default: the system's
            temporary folder).
    """

    def __init__(self, n_jobs: int = 1, *, scratch: Path | None = None) -> None:
        self.n_slots = max(1, n_jobs)
        self.scratch = scratch
        self._ctx: Any = None
        self._running: list[_Running] = []

    def open(self, preload: list[str]) -> None:
        """Set the fork server's preload (it starts, importing them, on the first job)."""
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(preload)

    @property
    def n_running(self) -> int:
        """Jobs started and not yet handed back."""
        return len(self._running)

    def submit(self, task: Task) -> None:
        """Fork the job; its scratch folder has a random name that says nothing of the job."""
        if self._ctx is None:
            self.open(["harness.job"])
        out_dir = Path(tempfile.mkdtemp(prefix="parbench-job-", dir=self.scratch))
        process = self._ctx.Process(target=job_main, args=(task.spec, str(out_dir)), name="parbench-job")
        started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        memory = open_job_memory()
        process.start()
        try:
            memory.attach(process.pid)
        except OSError:
            memory.close()
            memory = ResidentMemory()
        self._running.append(_Running(task, process, out_dir, time.perf_counter(), started_at, memory))

    def wait(self, timeout_s: float) -> list[Outcome]:
        """Poll every :data:`POLL_S` until a job has ended or ``timeout_s`` has passed."""
        deadline = time.perf_counter() + timeout_s
        while True:
            time.sleep(POLL_S)
            done = [item for item in list(self._running) if self._ended(item)]
            if done or time.perf_counter() >= deadline:
                break
        for item in done:
            self._running.remove(item)
            item.memory.close()
        return [
            Outcome(item.task, item.out_dir, item.process.exitcode, item.killed,
                    time.perf_counter() - item.started, item.peak_mb, item.started_at, item.memory.kind)
            for item in done
        ]

    def _ended(self, item: _Running) -> bool:
        """True once the job has ended (killing it past a limit)."""
        if not item.process.is_alive():
            item.process.join()
            return True
        now = time.perf_counter()
        item.peak_mb = max(item.peak_mb, item.memory.sample(item.process.pid))
        if item.peak_mb > item.task.memory_limit_mb:
            item.killed = "oom"
        elif now - item.started > item.task.time_limit_s:
            item.killed = "timeout"
        else:
            return False
        kill_tree(item.process.pid)
        item.process.join()
        return True

    def shutdown(self, *, kill: bool) -> None:
        """Kill (when asked) what still runs and remove its scratch folders."""
        if not kill:
            return
        for item in self._running:
            kill_tree(item.process.pid)
            item.process.join(timeout=5)
            item.memory.close()
            shutil.rmtree(item.out_dir, ignore_errors=True)
        self._running.clear()
