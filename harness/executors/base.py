"""The executor interface between the runner (planning, scoring, storing) and the processes that run jobs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api import Job

__all__ = ["Executor", "Outcome", "Task"]


@dataclass(frozen=True)
class Task:
    """One job as an executor receives it.

    Attributes:
        job: The grid cell.
        spec: Plain data :func:`harness.job.job_main` runs from (no truth in it).
        time_limit_s: Wall-clock limit; past it the job is killed (``timeout``).
        memory_limit_mb: Limit of the job's own memory; past it the job is killed (``oom``).
    """

    job: Job
    spec: dict[str, Any]
    time_limit_s: float
    memory_limit_mb: float


@dataclass
class Outcome:
    """A job that has ended, as the executor hands it back.

    Attributes:
        task: The task it ran.
        out_dir: Local folder holding what the job wrote: ``predictions.npz`` and ``meta.json``, or
            ``error.txt``, and ``job.log``. The runner removes it after scoring.
        exitcode: The process's exit status (negative: killed by that signal); ``None`` if unknown.
        killed: ``"timeout"`` or ``"oom"`` when the executor ended the job at a limit, else ``""``.
        wall_s: Seconds from start to end.
        peak_mb: Largest own memory the executor saw, in MiB (see :mod:`harness.executors.memory`).
        started_at: ISO time of the start (UTC).
        memory_kind: How the memory was accounted (``"cgroup"`` or ``"resident above start"``).
    """

    task: Task
    out_dir: Path
    exitcode: int | None
    killed: str
    wall_s: float
    peak_mb: float
    started_at: str
    memory_kind: str = ""


class Executor(ABC):
    """Runs jobs somewhere; the runner keeps at most :attr:`n_slots` of them submitted at once.

    Use as a context manager around one run: ``__exit__`` shuts the executor down and kills what still runs
    when the block ends with an exception (Ctrl-C included).
    """

    n_slots: int = 1
    #: Threads each job may use; ``None``: the runner gives each job cpu_count / :attr:`n_slots`.
    threads_per_job: int | None = None

    def open(self, preload: list[str]) -> None:  # noqa: B027 - optional hook
        """Prepare to run jobs whose modules are ``preload`` (e.g. start a fork server that imports them)."""

    @abstractmethod
    def submit(self, task: Task) -> None:
        """Start ``task`` (the runner calls it only while fewer than :attr:`n_slots` tasks are running)."""

    @abstractmethod
    def wait(self, timeout_s: float) -> list[Outcome]:
        """Return the tasks that ended since the last call, waiting at most ``timeout_s`` for one."""

    @property
    @abstractmethod
    def n_running(self) -> int:
        """Tasks submitted and not yet returned by :meth:`wait`."""

    @abstractmethod
    def shutdown(self, *, kill: bool) -> None:
        """Release the executor; ``kill=True`` ends every running task first and removes its folder."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.shutdown(kill=exc_type is not None)
