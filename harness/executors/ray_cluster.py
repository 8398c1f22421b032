"""The Ray executor: every job a Ray task, for grids that outgrow one machine.

Each job becomes one Ray task that asks the cluster for the budget's resources (``cpus_per_job`` CPUs, one GPU
under a ``cuda`` budget, the budget's memory limit as Ray's ``memory`` resource). On the node Ray picks, the task
runs the job exactly as the local pool does (:class:`~harness.executors.local.LocalExecutor`: a fork server per
Ray worker, kept warm between its tasks; the same wall-time and memory limits, cgroup accounting and kills), then
returns what the job wrote (predictions, timings, log or traceback) to the driver, which scores and stores it.
So only the driver writes the store: resume, statuses and the one-file-per-job rule are those of a local run,
and a driver killed at any moment resumes with every job exactly once.

What a cluster needs:

- the same code and libraries on every node (``pip install -e '.[extras,ray]'`` of the same commit);
- the data folder at the same path on every node (a shared file system, or a copy at that path): a job whose
  node lacks the dataset folder ends ``error`` with a message naming the node and the path. Results need no
  sharing: they travel back to the driver through Ray.

Start a cluster with ``ray start --head`` on one machine and ``ray start --address HEAD:6379`` on the others,
then run ``parbench run <track> --executor ray --address auto`` on the head (or ``--address HEAD:6379``).
Without ``--address`` the executor starts a local Ray instance with this machine's CPUs.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.executors.base import Executor, Outcome, Task

__all__ = ["RayExecutor"]

#: Seconds a task may run past its job's wall-time limit before the driver cancels it (a node that died).
GRACE_S = 120.0

#: The warm local executor of this Ray worker process, by preload (one fork server per worker).
_WORKER: dict[tuple[str, ...], Any] = {}


def _run_on_worker(task: Task, preload: list[str], scratch: str | None) -> dict[str, Any]:
    """Run one job on this node through a local executor; return its files and how it ended (plain data)."""
    from harness.executors.local import LocalExecutor

    host = socket.gethostname()
    root = task.spec.get("root", "")
    if root and not Path(root).is_dir():
        message = (f"dataset folder {root} does not exist on node {host}: every node of a Ray cluster needs the "
                   "data folder at the same path (a shared file system or a copy there).\n")
        return {"files": {"error.txt": message.encode(), "job.log": message.encode()}, "exitcode": 1, "killed": "",
                "wall_s": 0.0, "peak_mb": 0.0, "started_at": _now(), "memory_kind": "", "host": host}
    key = tuple(preload)
    if key not in _WORKER:
        executor = LocalExecutor(1, scratch=Path(scratch) if scratch else None)
        executor.open(preload)
        _WORKER.clear()
        _WORKER[key] = executor
    executor = _WORKER[key]
    local = dataclasses.replace(task, spec={**task.spec, "runner_pid": os.getpid()})  # this worker is its runner
    executor.submit(local)
    outcomes: list[Outcome] = []
    while not outcomes:
        outcomes = executor.wait(timeout_s=1.0)
    outcome = outcomes[0]
    files = {p.name: p.read_bytes() for p in outcome.out_dir.iterdir() if p.is_file()}
    shutil.rmtree(outcome.out_dir, ignore_errors=True)
    return {"files": files, "exitcode": outcome.exitcode, "killed": outcome.killed, "wall_s": outcome.wall_s,
            "peak_mb": outcome.peak_mb, "started_at": outcome.started_at, "memory_kind": outcome.memory_kind,
            "host": host}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclasses.dataclass
class _Submitted:
    task: Task
    started: float
    started_at: str


class RayExecutor(Executor):
    """Runs each job as a Ray task on a local or remote Ray cluster.

    Args:
        address: ``None`` starts a local Ray instance; ``"auto"`` joins the cluster this machine belongs to;
            ``"HOST:PORT"`` joins that head node.
        cpus_per_job: CPUs each job asks for (and its thread count).
        num_cpus: CPUs of a local instance (default: this machine's); ignored when joining a cluster.
        scratch: Folder on each node under which jobs get their scratch folders (default: the system's).
    """

    def __init__(self, address: str | None = None, *, cpus_per_job: int = 1, num_cpus: int | None = None,
                 scratch: Path | None = None) -> None:
        self.address = address
        self.cpus_per_job = max(1, int(cpus_per_job))
        self.num_cpus = num_cpus
        self.scratch = str(scratch) if scratch else None
        self.n_slots = 1
        self._remote: Any = None
        self._preload: list[str] = []
        self._running: dict[Any, _Submitted] = {}
        self._started_ray = False

    @property
    def threads_per_job(self) -> int:
        """Threads each job may use: the CPUs it asked the cluster for."""
        return self.cpus_per_job

    def open(self, preload: list[str]) -> None:
        """Connect to (or start) Ray and size the slots from the cluster's CPUs.

        Raises:
            ParbenchError: Ray is not installed, or the cluster cannot be reached; says what to do.
        """
        from harness.errors import ParbenchError

        try:
            import ray
        except ImportError as exc:
            msg = "the Ray executor needs Ray: pip install -e '.[ray]' (or pip install 'ray>=2.9')."
            raise ParbenchError(msg) from exc
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "ignore_reinit_error": True}
            if self.address is None:
                options["num_cpus"] = self.num_cpus or os.cpu_count() or 1
                options["object_store_memory"] = 512 * 2**20
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                msg = (f"cannot reach a Ray cluster at {self.address!r} ({exc}); start one with `ray start --head` "
                       "(and `ray start --address HEAD:6379` on the other machines) or omit --address for a local "
                       "instance.")
                raise ParbenchError(msg) from exc
            self._started_ray = True
        cpus = float(ray.cluster_resources().get("CPU", 1))
        self.n_slots = max(1, int(cpus // self.cpus_per_job))
        self._preload = list(preload)
        self._remote = ray.remote(_run_on_worker)

    @property
    def n_running(self) -> int:
        """Tasks submitted and not yet handed back."""
        return len(self._running)

    def submit(self, task: Task) -> None:
        """Submit the job as a Ray task with the budget's resources (no retry: a failure is the job's status)."""
        if self._remote is None:
            self.open(["harness.job"])
        options = {
            "num_cpus": self.cpus_per_job,
            "num_gpus": 1 if task.spec.get("device") == "cuda" else 0,
            "memory": int(task.memory_limit_mb * 2**20),
            "max_retries": 0,
        }
        ref = self._remote.options(**options).remote(task, self._preload, self.scratch)
        self._running[ref] = _Submitted(task, time.perf_counter(), _now())

    def wait(self, timeout_s: float) -> list[Outcome]:
        """Return the tasks that ended (waiting at most ``timeout_s`` for one); cancel those far past their limit."""
        import ray

        if not self._running:
            return []
        refs = list(self._running)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout_s)
        if ready:
            rest = [r for r in refs if r not in ready]
            if rest:
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
        outcomes = [self._collect(ref) for ref in ready]
        now = time.perf_counter()
        for ref, submitted in list(self._running.items()):
            if now - submitted.started > submitted.task.time_limit_s + GRACE_S:
                ray.cancel(ref, force=True)
                outcomes.append(self._lost(ref, "timeout", f"the Ray task outlived its limit by {GRACE_S:g} s and "
                                                           "was cancelled (its node may have died)"))
        return outcomes

    def _collect(self, ref: Any) -> Outcome:
        import ray

        try:
            result = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a lost worker or node is the job's error, the grid goes on
            text = "".join(traceback.format_exception_only(type(exc), exc))
            return self._lost(ref, "", f"the Ray task failed before the job could report: {text}")
        submitted = self._running.pop(ref)
        out_dir = Path(tempfile.mkdtemp(prefix="parbench-ray-"))
        for name, data in result["files"].items():
            (out_dir / name).write_bytes(data)
        with (out_dir / "job.log").open("a") as handle:
            handle.write(f"ran on Ray node {result['host']}\n")
        return Outcome(submitted.task, out_dir, result["exitcode"], result["killed"], result["wall_s"],
                       result["peak_mb"], result["started_at"] or submitted.started_at, result["memory_kind"])

    def _lost(self, ref: Any, killed: str, message: str) -> Outcome:
        submitted = self._running.pop(ref)
        out_dir = Path(tempfile.mkdtemp(prefix="parbench-ray-"))
        (out_dir / "error.txt").write_text(message + "\n")
        (out_dir / "job.log").write_text(message + "\n")
        return Outcome(submitted.task, out_dir, None, killed, time.perf_counter() - submitted.started, 0.0,
                       submitted.started_at, "")

    def shutdown(self, *, kill: bool) -> None:
        """Cancel what still runs when asked; disconnect from a Ray instance this executor started."""
        import ray

        if kill:
            for ref in list(self._running):
                ray.cancel(ref, force=True)
            self._running.clear()
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
            self._started_ray = False
