"""Results -> leaderboard tables: mean ± std over seeds, per subset and averaged, ranked.

:func:`aggregate` turns the store's rows into one tidy table, one row per (dataset, subset,
method, metric), where the subset ``"mean"`` is the average over the subsets. A cell whose
seeds all failed carries the failure status instead of a number; a cell with some failed
seeds keeps the mean of the others and says how many failed. :func:`write_leaderboard` writes
``results/leaderboards/<track>.csv`` (the tidy table) and ``<track>.md`` (one ranked table per
dataset plus the main metric per subset). A table never mixes two budget versions or two
dataset fingerprints: :func:`select_rows` refuses and says how to resolve it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import ResultsError

__all__ = [
    "MEAN_SUBSET",
    "aggregate",
    "budget_overrides",
    "format_cell",
    "render_markdown",
    "select_rows",
    "write_leaderboard",
]

#: Name of the pseudo-subset holding the average over subsets.
MEAN_SUBSET = "mean"
_KEYS = ["dataset", "subset", "method", "metric"]


def select_rows(rows: pd.DataFrame, *, budget: str, track: str) -> pd.DataFrame:
    """Keep the rows of budget ``budget``, refusing a mix of budget versions or fingerprints.

    Raises:
        ResultsError: No rows for that budget, or rows from several budget hashes, or several
            fingerprints of one dataset; the message says what to delete or rerun.
    """
    chosen = rows[rows["budget"] == budget]
    if chosen.empty:
        present = sorted(rows["budget"].unique())
        msg = (
            f"no results of track {track!r} under budget {budget!r} in the store; "
            f"budgets present: {present or 'none'}. Run `parbench run {track} --budget {budget}` first."
        )
        raise ResultsError(msg)
    hashes = sorted(chosen["budget_hash"].unique())
    if len(hashes) > 1:
        msg = (
            f"results of track {track!r} mix {len(hashes)} versions of budget {budget!r} ({', '.join(hashes)}); "
            "a table must come from one. Delete the stale files under results/runs/"
            f"{track}/ (column budget_hash) or rerun the whole grid."
        )
        raise ResultsError(msg)
    for dataset, group in chosen.groupby("dataset"):
        prints = sorted(group["fingerprint"].unique())
        if len(prints) > 1:
            msg = (
                f"results of dataset {dataset!r} come from {len(prints)} different copies of the data "
                f"(fingerprints {', '.join(prints)}); rerun on one copy and delete the others' files."
            )
            raise ResultsError(msg)
    return chosen


def _cell(values: pd.Series, statuses: pd.Series, n_seeds: int) -> dict[str, Any]:
    ok = values[statuses == "ok"].dropna()
    failed = statuses[statuses != "ok"]
    status = "ok" if failed.empty else (failed.mode().iloc[0] if ok.empty else "partial")
    return {
        "mean": float(ok.mean()) if len(ok) else math.nan,
        "std": float(ok.std(ddof=0)) if len(ok) else math.nan,
        "n_ok": len(ok),
        "n_runs": n_seeds,
        "status": status,
    }


def aggregate(rows: pd.DataFrame, metrics: dict[str, bool]) -> pd.DataFrame:
    """Aggregate result rows over seeds, add the subset average and rank by the main metric.

    Args:
        rows: Store rows of one budget (see :func:`select_rows`).
        metrics: The track's metric -> higher-is-better table; the first key is the main metric.

    Returns:
        DataFrame with columns dataset, subset, method, kind, metric, mean, std, n_ok, n_runs,
        status, rank (rank on the main metric, 1 = best, failed methods last, within each
        dataset and subset). The average over subsets uses, per seed, the mean over subsets; a
        method missing any subset of that seed is ``partial`` in the average.
    """
    extra = sorted(set(rows["metric"]) - set(metrics))
    order = list(metrics) + extra
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    records = []
    for (dataset, subset, method, metric), group in rows.groupby(_KEYS, sort=True):
        records.append(
            {
                "dataset": dataset,
                "subset": subset,
                "method": method,
                "metric": metric,
                **_cell(group["value"], group["status"], group["seed"].nunique()),
            }
        )
    n_subsets = rows.groupby("dataset")["subset"].nunique().to_dict()
    for (dataset, method, metric), group in rows.groupby(["dataset", "method", "metric"], sort=True):
        ok_rows = group[group["status"] == "ok"].groupby("seed")["value"].agg(["mean", "count"])
        ok = ok_rows.loc[ok_rows["count"] == n_subsets[dataset], "mean"]
        n_seeds = group["seed"].nunique()
        if len(ok) == n_seeds:
            status = "ok"
        else:
            status = "partial" if len(ok) else group.loc[group["status"] != "ok", "status"].mode().iloc[0]
        records.append(
            {
                "dataset": dataset,
                "subset": MEAN_SUBSET,
                "method": method,
                "metric": metric,
                "mean": float(ok.mean()) if len(ok) else math.nan,
                "std": float(ok.std(ddof=0)) if len(ok) else math.nan,
                "n_ok": len(ok),
                "n_runs": n_seeds,
                "status": status,
            }
        )
    table = pd.DataFrame.from_records(records)
    table["kind"] = table["method"].map(kinds)
    table["metric"] = pd.Categorical(table["metric"], categories=order, ordered=True)
    table = _rank(table, next(iter(metrics)), higher=metrics[next(iter(metrics))])
    columns = ["dataset", "subset", "method", "kind", "metric", "mean", "std", "n_ok", "n_runs", "status", "rank"]
    return table.sort_values(["dataset", "subset", "rank", "method", "metric"])[columns].reset_index(drop=True)


def _rank(table: pd.DataFrame, main: str, *, higher: bool) -> pd.DataFrame:
    main_rows = table[table["metric"] == main].copy()
    score = main_rows["mean"].where(main_rows["status"] == "ok")
    main_rows["_score"] = -score if higher else score
    main_rows["rank"] = main_rows.groupby(["dataset", "subset"])["_score"].rank(method="min", na_option="bottom")
    ranks = main_rows.set_index(["dataset", "subset", "method"])["rank"]
    table = table.join(ranks, on=["dataset", "subset", "method"])
    table["rank"] = table["rank"].fillna(len(table)).astype(int)
    return table


def format_cell(mean: float, std: float, status: str, n_ok: int, n_runs: int, *, digits: int = 3) -> str:
    """Render one cell: ``0.912 ± 0.010``, ``0.912 ± 0.010 (1/3 failed)`` or ``TIMEOUT``.

    Values below 0.01 in magnitude (timings per item, say) keep ``digits`` significant digits.
    """
    if status not in ("ok", "partial"):
        return status.upper()
    spec = f".{digits}g" if 0 < abs(mean) < 0.01 else f".{digits}f"
    text = f"{mean:{spec}}" if n_runs <= 1 else f"{mean:{spec}} ± {std:{spec}}"
    if status == "partial":
        text += f" ({n_runs - n_ok}/{n_runs} failed)"
    return text


def render_markdown(
    table: pd.DataFrame,
    *,
    track: str,
    metrics: dict[str, bool],
    header: dict[str, str],
    figures: Sequence[str] = (),
) -> str:
    """Render the Markdown leaderboard: provenance and, per dataset, three parts.

    The ranked average over subsets (every metric), the main metric per subset, and every metric of each
    subset; rows keep the average's order.
    """
    from tabulate import tabulate

    main = next(iter(metrics))
    lines = [f"# Leaderboard: {track}", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["- cells: mean ± std over seeds (population std); arrows give the better direction", ""]
    arrow = {m: "↑" if up else "↓" for m, up in metrics.items()}
    for dataset, by_dataset in table.groupby("dataset", sort=True):
        mean_rows = by_dataset[by_dataset["subset"] == MEAN_SUBSET]
        lines += [f"## {dataset}: average over subsets (ranked by {main} {arrow.get(main, '')})", ""]
        ranks = mean_rows.groupby("method")["rank"].min().sort_values(kind="stable")
        lines.append(_pivot_markdown(mean_rows, ranks, "metric", arrow, tabulate))
        subsets = by_dataset[(by_dataset["subset"] != MEAN_SUBSET) & (by_dataset["metric"] == main)]
        if subsets["subset"].nunique() > 1:
            lines += ["", f"### {dataset}: {main} per subset (rows in the order of the average)", ""]
            lines.append(_pivot_markdown(subsets, ranks, "subset", arrow, tabulate))
            lines += ["", f"### {dataset}: every metric per subset", ""]
            for subset, rows in by_dataset[by_dataset["subset"] != MEAN_SUBSET].groupby("subset", sort=True):
                lines += [f"#### {subset}", "", _pivot_markdown(rows, ranks, "metric", arrow, tabulate), ""]
        lines.append("")
    if figures:
        lines += ["## Figures", ""] + [f"![{Path(f).stem}]({f})" for f in figures] + [""]
    return "\n".join(lines)


def _pivot_markdown(
    rows: pd.DataFrame, ranks: pd.Series, columns: str, arrow: dict[str, str], tabulate: Any
) -> str:
    """One row per method in the order of ``ranks`` (the average's ranks), one column per ``columns`` value."""
    cells = rows.assign(cell=[format_cell(r.mean, r.std, r.status, r.n_ok, r.n_runs) for r in rows.itertuples()])
    kinds = rows.groupby("method")["kind"].first()
    pivot = cells.pivot_table(index="method", columns=columns, values="cell", aggfunc="first", observed=True)
    order = [m for m in ranks.index if m in pivot.index]
    headers = ["rank", "method", "kind"] + [f"{c} {arrow.get(str(c), '')}".strip() for c in pivot.columns]
    body = [[int(ranks[m]), m, kinds[m], *pivot.loc[m].fillna("—").tolist()] for m in order]
    return tabulate(body, headers=headers, tablefmt="github", disable_numparse=True)


def budget_overrides(rows: pd.DataFrame, preset: dict[str, Any] | None) -> dict[str, Any]:
    """Fields of the rows' budget (``budget_json``) that differ from ``preset``, seeds and name aside.

    Example:
        >>> rows = pd.DataFrame({"budget_json": ['{"lr": 0.5, "n_rounds": 40, "seeds": [0]}']})
        >>> budget_overrides(rows, {"lr": 2.0, "n_rounds": 40, "seeds": [0, 1]})
        {'lr': 0.5}
    """
    if preset is None or "budget_json" not in rows or rows.empty:
        return {}
    stored = json.loads(rows["budget_json"].iloc[0])
    return {
        key: value for key, value in sorted(stored.items())
        if key not in ("name", "seeds") and key in preset and preset[key] != value
    }


def write_leaderboard(
    rows: pd.DataFrame,
    *,
    track: str,
    metrics: dict[str, bool],
    budget: str,
    out_dir: Path,
    figures: Sequence[str] = (),
    preset: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Aggregate ``rows`` of one budget and write ``<out_dir>/<track>.csv`` and ``.md``.

    ``preset`` is the budget preset's fields (:meth:`harness.api.Budget.to_dict`): the header then lists the
    fields the rows' budget (column ``budget_json``) set otherwise (``--set``), so a table run under overrides
    says so.

    Returns:
        The CSV and Markdown paths.
    """
    chosen = select_rows(rows, budget=budget, track=track)
    table = aggregate(chosen, metrics)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"{track}.csv", out_dir / f"{track}.md"
    numeric = table.copy()
    numeric[["mean", "std"]] = numeric[["mean", "std"]].astype(float).round(6)
    numeric.to_csv(csv_path, index=False)
    commits = sorted(chosen["git_commit"].unique())
    job_status = chosen.groupby("job_key")["status"].first()
    header = {
        "budget": f"{budget} (hash {chosen['budget_hash'].iloc[0]})",
        "datasets": ", ".join(f"{d} (fingerprint {g['fingerprint'].iloc[0]})" for d, g in chosen.groupby("dataset")),
        "seeds": ", ".join(str(s) for s in sorted(chosen["seed"].unique())),
        "device": ", ".join(sorted(chosen["device"].dropna().unique())),
        "weights": ", ".join(sorted(chosen.get("weights", pd.Series(dtype=str)).dropna().unique())) or "random",
        "commit": ", ".join(c[:12] for c in commits) + (" (dirty)" if chosen["git_dirty"].any() else ""),
        "jobs": f"{len(job_status)} ({int((job_status != 'ok').sum())} failed)",
    }
    overrides = budget_overrides(chosen, preset)
    if overrides:
        header["budget"] += "; set otherwise than the preset: " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    md_path.write_text(render_markdown(table, track=track, metrics=metrics, header=header, figures=figures))
    return csv_path, md_path
