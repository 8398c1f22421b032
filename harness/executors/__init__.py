"""Where jobs run: the runner plans and scores, an executor starts, watches and ends the jobs.

- :class:`Executor`: the interface the runner talks to (:meth:`~Executor.submit`, :meth:`~Executor.wait`,
  :meth:`~Executor.shutdown`); each finished job comes back as an :class:`Outcome`.
- :class:`LocalExecutor`: a pool of processes forked from a warm fork server on this machine, each job under
  its budget's wall-time and memory limits; :mod:`~harness.executors.memory` accounts each job's own memory.
- :class:`~harness.executors.ray_cluster.RayExecutor` (import it from :mod:`harness.executors.ray_cluster`; it
  needs Ray): every job a Ray task on a local or remote cluster, each run there by a local executor.
"""

from __future__ import annotations

from harness.executors.base import Executor, Outcome, Task
from harness.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "Outcome", "Task"]
