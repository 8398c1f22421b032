"""Append-only Parquet result store: one file per job, written to a temporary name then renamed.

Layout: ``<results>/runs/<track>/<job_key>.parquet``; each file holds the job's rows, one per
metric of the track (a failed job stores one row per metric too, with a null value and its
status), with the columns of :data:`SCHEMA`. A write is atomic (``os.replace``), so a run killed
at any moment leaves either the whole file or none of it; stray temporary files are removed
when the store opens. Per-job logs live in ``<results>/runs/<track>/logs/<job_key>.log``; a job's
per-item results and vector diagnostics (:meth:`harness.api.Track.item_results` and
:meth:`~harness.api.Track.diagnostics`) in ``<results>/runs/<track>/arrays/<job_key>.npz``, written before
its rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from harness.errors import ResultsError

__all__ = ["SCHEMA", "Store"]

#: Columns of a result row, in order.
SCHEMA = pa.schema(
    [
        ("job_key", pa.string()),
        ("track", pa.string()),
        ("dataset", pa.string()),
        ("subset", pa.string()),
        ("method", pa.string()),
        ("method_kind", pa.string()),
        ("method_config", pa.string()),
        ("seed", pa.int64()),
        ("metric", pa.string()),
        ("value", pa.float64()),
        ("higher_is_better", pa.bool_()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("wall_s", pa.float64()),
        ("fit_s", pa.float64()),
        ("predict_s", pa.float64()),
        ("n_test", pa.int64()),
        ("peak_memory_mb", pa.float64()),
        ("peak_device_memory_mb", pa.float64()),
        ("device", pa.string()),
        ("budget", pa.string()),
        ("budget_hash", pa.string()),
        ("weights", pa.string()),
        ("budget_json", pa.string()),
        ("fingerprint", pa.string()),
        ("git_commit", pa.string()),
        ("git_dirty", pa.bool_()),
        ("versions", pa.string()),
        ("started_at", pa.string()),
        ("finished_at", pa.string()),
        ("log_path", pa.string()),
    ]
)


class Store:
    """The Parquet result store of one results folder.

    Args:
        root: The results folder (``results/``); runs go to ``root/runs``.

    Raises:
        ResultsError: The folder cannot be created or written; says which and what to do.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def track_dir(self, track: str) -> Path:
        """Folder holding the job files of ``track``."""
        return self.root / "runs" / track

    def log_path(self, track: str, key: str) -> Path:
        """Log file of job ``key``."""
        return self.track_dir(track) / "logs" / f"{key}.log"

    def open(self, track: str) -> None:
        """Create the track's folders, check they are writable and remove stray temporary files."""
        folder = self.track_dir(track)
        probe = folder / f".probe-{uuid.uuid4().hex}"
        try:
            (folder / "logs").mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            msg = (
                f"results folder {folder} is not writable ({exc.strerror or exc}); "
                "pass --results PATH (or set PARBENCH_RESULTS) to a folder you can write."
            )
            raise ResultsError(msg) from exc
        for stray in [*folder.glob(".tmp-*"), *folder.glob("arrays/.tmp-*")]:
            stray.unlink(missing_ok=True)

    def write(self, track: str, key: str, rows: Iterable[Mapping[str, Any]]) -> Path:
        """Write the rows of job ``key`` atomically, replacing an earlier file of the same job."""
        final = self.track_dir(track) / f"{key}.parquet"
        table = pa.Table.from_pylist([{name: row.get(name) for name in SCHEMA.names} for row in rows], schema=SCHEMA)
        _atomic_write(final, lambda tmp: pq.write_table(table, tmp))
        return final

    def arrays_path(self, track: str, key: str) -> Path:
        """File of job ``key``'s per-item results and diagnostics (``arrays/<key>.npz``)."""
        return self.track_dir(track) / "arrays" / f"{key}.npz"

    def write_arrays(self, track: str, key: str, items: Mapping[str, Any], diagnostics: Mapping[str, Any]) -> None:
        """Write job ``key``'s per-item arrays and diagnostics atomically (before its rows, so an ``ok`` row has them).

        Keys are stored as ``item/<name>`` and ``diagnostic/<name>``; nothing is written when both are empty.
        """
        import numpy as np

        if not items and not diagnostics:
            return
        final = self.arrays_path(track, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        payload = {f"item/{k}": np.asarray(v) for k, v in items.items()}
        payload.update({f"diagnostic/{k}": np.asarray(v) for k, v in diagnostics.items()})

        def write(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                np.savez(handle, **payload)

        _atomic_write(final, write)

    def read_arrays(self, track: str, key: str, group: str) -> dict[str, Any]:
        """Return job ``key``'s stored arrays of ``group`` (``"item"`` or ``"diagnostic"``); empty if none.

        Raises:
            ResultsError: The file exists but cannot be read; says which and what to do.
        """
        return self.read_all_arrays(track, key).get(group, {})

    def read_all_arrays(self, track: str, key: str) -> dict[str, dict[str, Any]]:
        """Return job ``key``'s stored arrays, group -> name -> array, reading its file once; empty if none.

        Raises:
            ResultsError: The file exists but cannot be read; says which and what to do.
        """
        import numpy as np

        path = self.arrays_path(track, key)
        if not path.is_file():
            return {}
        out: dict[str, dict[str, Any]] = {}
        try:
            with np.load(path, allow_pickle=False) as data:
                for name in data.files:
                    group, _, array = name.partition("/")
                    out.setdefault(group, {})[array] = data[name]
        except (OSError, ValueError) as exc:
            msg = f"array file {path} cannot be read ({exc}); delete it and its .parquet to recompute that job."
            raise ResultsError(msg) from exc
        return out

    def files(self, track: str) -> list[Path]:
        """Every job file of ``track``, sorted."""
        return sorted(self.track_dir(track).glob("*.parquet"))

    def statuses(self, track: str) -> dict[str, str]:
        """Return job key -> status for every stored job of ``track`` (reads one column)."""
        out = {}
        for path in self.files(track):
            table = self._read_file(path, columns=["status"])
            statuses = set(table.column("status").to_pylist())
            out[path.stem] = "ok" if statuses == {"ok"} else sorted(statuses - {"ok"})[0]
        return out

    def read(self, track: str) -> Any:
        """Return every row of ``track`` as a pandas DataFrame with the :data:`SCHEMA` columns."""
        tables = [self._read_file(path) for path in self.files(track)]
        if not tables:
            return SCHEMA.empty_table().to_pandas()
        return pa.concat_tables(tables).to_pandas()

    @staticmethod
    def _read_file(path: Path, columns: list[str] | None = None) -> pa.Table:
        try:
            return pq.read_table(path, columns=columns, schema=SCHEMA)
        except (OSError, pa.ArrowInvalid) as exc:
            msg = f"result file {path} cannot be read ({exc}); delete it and run again to recompute that job."
            raise ResultsError(msg) from exc


def _atomic_write(final: Path, write: Callable[[Path], None]) -> None:
    """Write ``final`` through ``write(tmp)`` on a temporary name beside it, fsync, then rename over it.

    Raises:
        ResultsError: The write failed (disk full, folder gone); the temporary file is removed.
    """
    tmp = final.parent / f".tmp-{final.stem}-{uuid.uuid4().hex}{final.suffix}"
    try:
        write(tmp)
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        msg = f"cannot write {final}: {exc.strerror or exc}; free space or pass another --results folder."
        raise ResultsError(msg) from exc
