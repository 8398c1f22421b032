"""Methods that fail on purpose, and one that records everything it receives; the tests register them.

They are not part of the harness's registry: :func:`register` adds them for the test session (conftest), and a
test that starts the ``parbench`` command in another process registers them there the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.options import option
from harness.tracks.toy.track import NoOp

#: name -> (target, track) of every method registered by :func:`register`.
FAULTS = {
    "toy-raise": ("engine_faults:Raises", "toy"),
    "toy-hang": ("engine_faults:Hang", "toy"),
    "toy-oom": ("engine_faults:AllocatesTooMuch", "toy"),
    "toy-nan": ("engine_faults:ReturnsNaN", "toy"),
    "toy-badshape": ("engine_faults:BadShape", "toy"),
    "toy-cuda-alloc": ("engine_faults:AllocatesOnDevice", "toy"),
}
#: Tracks that get a ``<track>-peek`` method.
PEEK_TRACKS = ("active", "anomaly", "earlyexit", "fedrec", "prompt", "reid", "teaching", "toy", "wsol")


def register() -> None:
    """Add the fault methods and the peek methods to the method registry (once per process)."""
    from harness.registry import methods

    for name, (target, track) in FAULTS.items():
        if name not in methods:
            methods.register(name, target, track=track, config={}, kind="baseline")
    for track in PEEK_TRACKS:
        if f"{track}-peek" not in methods:
            methods.register(f"{track}-peek", "engine_faults:Peek", track=track, config={}, kind="baseline")


def parbench_command(*args: str) -> list[str]:
    """The ``parbench`` command line, in a new Python process that registers these methods first."""
    here = str(Path(__file__).resolve().parent)
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import engine_faults; engine_faults.register(); "
        "from harness.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    return [sys.executable, "-c", code, *args]


class Raises(NoOp):
    """Raises in ``fit``."""

    name = "toy-raise"

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Fail on purpose."""
        msg = "toy-raise fails on purpose"
        raise RuntimeError(msg)


class Hang(NoOp):
    """Never returns from ``fit``."""

    name = "toy-hang"

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Sleep forever."""
        while True:
            time.sleep(0.05)


class AllocatesTooMuch(NoOp):
    """Allocates (and touches) memory in 128 MiB steps until it is stopped."""

    name = "toy-oom"

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Grow without bound."""
        hoard = []
        while True:
            hoard.append(np.ones(16 * 1024 * 1024))  # 128 MiB, touched
            time.sleep(0.005)


class ReturnsNaN(NoOp):
    """Returns scores full of NaN."""

    name = "toy-nan"

    def predict(self, inputs: Any) -> Predictions:
        """NaN scores."""
        n_test = len(inputs)
        return Predictions.of(labels=np.zeros(n_test, dtype=np.int64), scores=np.full(n_test, np.nan))


class BadShape(NoOp):
    """Returns one label too few."""

    name = "toy-badshape"

    def predict(self, inputs: Any) -> Predictions:
        """Shape (n_test - 1,)."""
        n_short = len(inputs) - 1
        return Predictions.of(labels=np.zeros(n_short, dtype=np.int64), scores=np.zeros(n_short))


class AllocatesOnDevice(NoOp):
    """Holds ``mib`` MiB of CUDA memory during ``fit`` (``ctx.device`` must be cuda)."""

    name = "toy-cuda-alloc"

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Options of the device allocator."""

        mib: int = option(64, "CUDA memory held during fit, in MiB.", ge=1)

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Allocate and touch the memory on the job's device."""
        import torch

        block = torch.ones(self.config.mib * 2**18, device=ctx.device)  # float32: 4 bytes each
        self.total = float(block.sum())


# ---------------------------------------------------------------------------------------------------------------
# The peek method: a survey of everything a method receives.

#: Folder levels walked below each path a method is given (or the parent folder of a given file).
WALK_DEPTH = 3
#: Files listed at most per walk.
WALK_LIMIT = 5000


def array_hash(array: np.ndarray) -> str:
    """Short SHA-1 of an array's bytes: how the survey names an array, and how the peek tests look for one."""
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def row_hashes(array: np.ndarray) -> list[str]:
    """:func:`array_hash` of each row."""
    return [array_hash(row) for row in array]


class _Survey:
    """Collects the strings, numeric arrays and paths inside an object graph."""

    def __init__(self) -> None:
        self.strings: set[str] = set()
        self.arrays: list[dict[str, Any]] = []
        self._seen: set[int] = set()

    def visit(self, obj: Any, where: str) -> None:  # noqa: C901 - one branch per kind of object
        if id(obj) in self._seen or where.count(".") > 12:
            return
        self._seen.add(id(obj))
        if isinstance(obj, (str, bytes, os.PathLike)):
            self.strings.add(os.fsdecode(obj) if not isinstance(obj, str) else obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype.kind in "USO":
                for i, item in enumerate(obj.ravel()[:100000].tolist()):
                    self.visit(item, f"{where}[{i}]")
            else:
                self.arrays.append({
                    "where": where, "shape": list(obj.shape), "dtype": str(obj.dtype),
                    "sha1": array_hash(obj),
                    "rows": row_hashes(obj) if obj.ndim >= 1 and len(obj) <= 200000 else [],
                })
        elif hasattr(obj, "detach") and hasattr(obj, "numpy"):  # a torch tensor
            self.visit(obj.detach().cpu().numpy(), where)
        elif isinstance(obj, dict):
            for key, value in obj.items():
                self.visit(key, f"{where}.key")
                self.visit(value, f"{where}[{key!r}]")
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, item in enumerate(obj):
                self.visit(item, f"{where}[{i}]")
        elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                self.visit(getattr(obj, f.name), f"{where}.{f.name}")
        elif hasattr(obj, "handlers") and hasattr(obj, "name"):  # a logger: where do its records go?
            self.visit(obj.name, f"{where}.name")
            for i, handler in enumerate(obj.handlers):
                for attr in ("baseFilename", "stream"):
                    target = getattr(handler, attr, None)
                    self.visit(getattr(target, "name", target), f"{where}.handlers[{i}].{attr}")
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            self.visit(vars(obj), f"{where}.__dict__")


def _walk(path: Path) -> list[str]:
    """Files and folders at most :data:`WALK_DEPTH` levels below ``path`` (at most :data:`WALK_LIMIT`)."""
    found: list[str] = []
    base_depth = len(path.parts)
    for folder, dirs, files in os.walk(path, followlinks=False):
        if len(Path(folder).parts) - base_depth >= WALK_DEPTH:
            dirs[:] = []
        found += [str(Path(folder) / name) for name in dirs + files]
        if len(found) >= WALK_LIMIT:
            break
    return found[:WALK_LIMIT]


def survey(received: dict[str, Any]) -> dict[str, Any]:
    """Everything reachable from what a method received, as JSON-ready data.

    Returns:
        ``strings`` (every string inside the objects), ``arrays`` (shape, dtype, hash and per-row hashes of every
        numeric array), ``paths`` (strings, open files and the working folder that exist on disk, resolved),
        ``reachable`` (what lies up to three levels below each such folder, or below a given file's folder),
        ``environ``, ``argv`` and ``cwd``.
    """
    found = _Survey()
    for name, obj in received.items():
        found.visit(obj, name)
    candidates = set(found.strings) | {os.getcwd()}
    fd_dir = Path("/proc/self/fd")
    if fd_dir.is_dir():
        for fd in fd_dir.iterdir():
            try:
                candidates.add(os.readlink(fd))
            except OSError:
                continue
    paths = sorted({str(Path(c).resolve()) for c in candidates if len(c) < 4096 and c.startswith("/")
                    and Path(c).exists()})
    reachable: set[str] = set()
    for path in paths:
        start = Path(path) if Path(path).is_dir() else Path(path).parent
        if start != Path("/"):
            reachable.update(_walk(start))
    return {
        "strings": sorted(found.strings),
        "arrays": found.arrays,
        "paths": paths,
        "reachable": sorted(reachable),
        "environ": dict(os.environ),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
    }


class Peek(Method):
    """Records everything it receives (training data, budget, context, test inputs, environment), then fails.

    The record goes to the file its config names; the peek tests search it for the truth.
    """

    name = "peek"
    kind = "baseline"
    paper = "engine self-test"

    @dataclasses.dataclass(frozen=True)
    class Config:
        """Options of the peek method."""

        record: str = option("", "File the survey of everything received is written to (JSON).")

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Keep what ``fit`` receives."""
        self.received = {"train": train, "budget": budget, "ctx": ctx}

    def predict(self, inputs: Any) -> Predictions:
        """Write the survey of everything received, then end the job (its predictions do not matter)."""
        record = survey({**self.received, "inputs": inputs})
        Path(self.config.record).write_text(json.dumps(record))
        msg = "peek ends here on purpose"
        raise RuntimeError(msg)
