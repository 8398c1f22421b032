"""A job's own memory: what it allocated itself, not the libraries it shares with the fork server.

A job forked from the warm server shares the server's pages (torch, anomalib and the rest, often 600 MiB and
more); its resident set counts them, though the job never paid for them. Where the machine has a writable
memory cgroup (version 1 or 2), the executor puts each job in a cgroup of its own as it starts: the kernel then
charges the job exactly the pages it allocates or copies on write, and the counters cost microseconds to read.
Elsewhere it falls back to the resident memory the job's process tree holds above what it held when it started
(the shared pages it found), an estimate that misses pages copied on write.

Reading ``smaps_rollup`` for the USS would be exact too, but it walks every page of the process: about 85 ms
per read for a job with torch loaded, and the walk holds up the job it measures.
"""

from __future__ import annotations

import itertools
import os
from abc import ABC, abstractmethod
from pathlib import Path

__all__ = ["CgroupMemory", "JobMemory", "ResidentMemory", "open_job_memory"]

#: Counters of ``memory.stat`` that hold a job's own pages (cgroup v1 with hierarchy, then v2).
_V1_KEYS = ("total_rss", "total_rss_huge", "total_shmem")
_V2_KEYS = ("anon", "shmem")
_COUNTER = itertools.count()


class JobMemory(ABC):
    """Accounts the memory of one job; :meth:`sample` returns MiB, :meth:`close` releases what it made."""

    #: How the memory is accounted, as written in the job's log.
    kind: str = ""

    def attach(self, pid: int) -> None:  # noqa: B027 - optional hook
        """Account process ``pid`` (and the children it will fork) from now on."""

    @abstractmethod
    def sample(self, pid: int) -> float:
        """The job's own memory now, in MiB."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the accounting (remove the cgroup)."""


def _cgroup_base() -> tuple[Path, tuple[str, ...]] | None:
    """The folder of this process's memory cgroup and the counters it offers, if the hierarchy is mounted."""
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
        groups = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in mounts:
        parts = line.split()
        if len(parts) < 4:
            continue
        mount, fstype, options = parts[1], parts[2], parts[3].split(",")
        if fstype == "cgroup" and "memory" in options:
            rel = next((g.split(":", 2)[2] for g in groups if "memory" in g.split(":", 2)[1].split(",")), None)
            if rel is not None:
                return Path(mount) / rel.lstrip("/"), _V1_KEYS
        if fstype == "cgroup2":
            rel = next((g.split(":", 2)[2] for g in groups if g.startswith("0::")), None)
            if rel is not None and "memory" in (Path(mount) / "cgroup.controllers").read_text().split():
                return Path(mount) / rel.lstrip("/"), _V2_KEYS
    return None


class CgroupMemory(JobMemory):
    """A memory cgroup of the job's own: the kernel charges it every page the job allocates or copies."""

    kind = "cgroup"

    def __init__(self, path: Path, keys: tuple[str, ...]) -> None:
        self.path = path
        self.keys = keys

    def attach(self, pid: int) -> None:
        """Move ``pid`` into the cgroup (its later children follow it)."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def sample(self, pid: int) -> float:
        """The cgroup's anonymous and shared-memory pages, in MiB."""
        try:
            text = (self.path / "memory.stat").read_text()
        except OSError:
            return 0.0
        values = dict(line.split() for line in text.splitlines() if line.count(" ") == 1)
        return sum(int(values.get(key, 0)) for key in self.keys) / 2**20

    def close(self) -> None:
        """Remove the cgroup (the kernel allows it once its processes have ended)."""
        try:
            self.path.rmdir()
        except OSError:
            pass


class ResidentMemory(JobMemory):
    """Fallback: resident memory of the job's process tree above what it held at its start."""

    kind = "resident above start"

    def __init__(self) -> None:
        self.start_mb: float | None = None

    def sample(self, pid: int) -> float:
        """Resident MiB of ``pid`` and its descendants, less the first sample."""
        import psutil

        try:
            proc = psutil.Process(pid)
            total = proc.memory_info().rss
            for child in proc.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            return 0.0
        mb = total / 2**20
        if self.start_mb is None:
            self.start_mb = mb
        return max(0.0, mb - self.start_mb)


def open_job_memory() -> JobMemory:
    """A cgroup for the next job where one can be made here, else the resident-memory fallback."""
    base = _cgroup_base()
    if base is not None:
        folder, keys = base
        path = folder / f"parbench-{os.getpid()}-{next(_COUNTER)}"
        try:
            path.mkdir()
        except OSError:
            return ResidentMemory()
        if (path / "memory.stat").exists() and os.access(path / "cgroup.procs", os.W_OK):
            return CgroupMemory(path, keys)
        try:
            path.rmdir()
        except OSError:
            pass
    return ResidentMemory()
