"""Regression check: a fresh ``smoke`` run against ``results/reference/<track>.csv``.

The reference file has the columns ``dataset, subset, method, metric, expected, tolerance``;
a fresh value passes when ``|value - expected| <= tolerance``. A reference row whose job failed
or is missing fails too. ``--update`` rewrites the file from the fresh run on purpose, keeping
the tolerance of rows that existed and giving new rows the track's default, and writes
``<track>.provenance.json`` beside it (command, commit, budget hash, fingerprint, versions).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.api import COST_METRICS
from harness.errors import ResultsError
from harness.leaderboard import MEAN_SUBSET, aggregate

__all__ = ["REFERENCE_COLUMNS", "Mismatch", "compare", "read_reference", "write_reference"]

REFERENCE_COLUMNS = ["dataset", "subset", "method", "metric", "expected", "tolerance"]
#: Entry of a provenance file that explains the tolerances; an update keeps it.
TOLERANCES_NOTE = "tolerances"
#: Tolerance given to new reference rows when the track declares none.
DEFAULT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Mismatch:
    """One reference row the fresh run does not meet."""

    dataset: str
    subset: str
    method: str
    metric: str
    expected: float
    tolerance: float
    got: float
    status: str

    def __str__(self) -> str:
        where = f"{self.dataset}/{self.subset} {self.method} {self.metric}"
        if self.status != "ok":
            return f"FAIL {where}: job {self.status}, expected {self.expected:.6g} ± {self.tolerance:g}"
        delta = self.got - self.expected
        return (
            f"FAIL {where}: got {self.got:.6g}, expected {self.expected:.6g} ± {self.tolerance:g} "
            f"(off by {delta:+.6g})"
        )


def read_reference(path: Path) -> pd.DataFrame:
    """Read a reference CSV, checking its columns.

    Raises:
        ResultsError: The file is missing or lacks a column.
    """
    if not path.is_file():
        msg = f"no reference file {path}; create it on purpose with `parbench check <track> --update`."
        raise ResultsError(msg)
    ref = pd.read_csv(path, dtype={"dataset": str, "subset": str, "method": str, "metric": str})
    missing = [c for c in REFERENCE_COLUMNS if c not in ref.columns]
    if missing:
        msg = f"{path}: missing column(s) {missing}; expected {REFERENCE_COLUMNS}."
        raise ResultsError(msg)
    return ref


def compare(fresh: pd.DataFrame, reference: pd.DataFrame) -> tuple[list[Mismatch], int]:
    """Compare an aggregated fresh table with the reference rows.

    Args:
        fresh: Output of :func:`harness.leaderboard.aggregate`.
        reference: Output of :func:`read_reference`.

    Returns:
        The mismatches and the number of reference rows checked.
    """
    index = fresh.set_index(["dataset", "subset", "method", "metric"])
    mismatches = []
    for row in reference.itertuples(index=False):
        key = (row.dataset, row.subset, row.method, row.metric)
        if key in index.index:
            cell = index.loc[key]
            got, status = float(cell["mean"]), str(cell["status"])
        else:
            got, status = math.nan, "missing"
        if status == "ok" and abs(got - row.expected) <= row.tolerance:
            continue
        mismatches.append(Mismatch(*key, float(row.expected), float(row.tolerance), got, status))
    return mismatches, len(reference)


def write_reference(
    fresh: pd.DataFrame,
    path: Path,
    *,
    provenance: dict[str, str],
    default_tolerance: float = DEFAULT_TOLERANCE,
    exclude: Sequence[str] = (),
) -> int:
    """Write the fresh per-subset values (subset averages excluded) as the new reference.

    Rows that existed keep their tolerance, and the provenance file keeps its ``tolerances`` note (why they are
    what they are); every other provenance entry is the new one. Cost columns and the metrics in ``exclude`` (a
    track's :attr:`~harness.api.Track.hardware_metrics`) are not written.

    Returns:
        The number of rows written.
    """
    left_out = [*COST_METRICS, *exclude]
    keep = (fresh["status"] == "ok") & (fresh["subset"] != MEAN_SUBSET) & ~fresh["metric"].isin(left_out)
    rows = fresh[keep].copy()
    old = read_reference(path) if path.is_file() else pd.DataFrame(columns=REFERENCE_COLUMNS)
    tolerances = old.set_index(["dataset", "subset", "method", "metric"])["tolerance"].to_dict()
    rows["expected"] = rows["mean"].round(6)
    rows["tolerance"] = [
        tolerances.get((r.dataset, r.subset, r.method, str(r.metric)), default_tolerance) for r in rows.itertuples()
    ]
    rows["metric"] = rows["metric"].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows[REFERENCE_COLUMNS].sort_values(REFERENCE_COLUMNS[:4]).to_csv(path, index=False)
    stamp_path = path.with_suffix(".provenance.json")
    kept = {}
    if stamp_path.is_file():
        try:
            kept = {k: v for k, v in json.loads(stamp_path.read_text()).items() if k == TOLERANCES_NOTE}
        except ValueError:
            kept = {}
    stamp = {**kept, **provenance, "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    stamp_path.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")
    return len(rows)


def fresh_table(rows: pd.DataFrame, metrics: dict[str, bool]) -> pd.DataFrame:
    """Aggregate a fresh run's rows (one budget) for :func:`compare`."""
    table = aggregate(rows, metrics)
    table["metric"] = table["metric"].astype(str)
    return table
