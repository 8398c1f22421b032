"""Results -> leaderboard tables: mean and 95 % interval per cell, rank tests, paired comparisons.

:func:`aggregate` turns the store's rows into one tidy table, one row per (dataset, subset, method, metric),
where the subset ``"mean"`` is the average over the subsets. Each cell holds the mean over seeds and a 95 %
interval (:func:`harness.stats.interval`): where the track gives per-item results
(:meth:`harness.api.Track.item_results`), a bootstrap over its test items pooled with the spread over seeds;
otherwise Student's t over the seeds. A cell whose seeds all failed carries the failure status instead of a
number; a cell with some failed seeds keeps the mean of the others and says how many failed.

:func:`build_board` adds, per dataset, the rank test over every (subset, seed) block (Friedman and Nemenyi)
and the paired comparisons of each method against its ablations and the best baseline on the same resamples.
:func:`write_leaderboard` writes ``results/leaderboards/<track>.csv`` (the tidy table), ``<track>.md`` and the
critical-difference diagrams. A table never mixes two budget versions or two dataset fingerprints:
:func:`select_rows` refuses and says how to resolve it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import stats
from harness.api import COST_METRICS
from harness.errors import ResultsError

__all__ = [
    "MEAN_SUBSET",
    "Board",
    "aggregate",
    "budget_overrides",
    "build_board",
    "cell_text",
    "diagnostic_frame",
    "draw_cd",
    "format_cell",
    "item_replicates",
    "render_markdown",
    "select_rows",
    "write_board",
    "write_leaderboard",
]

#: Name of the pseudo-subset holding the average over subsets.
MEAN_SUBSET = "mean"
_KEYS = ["dataset", "subset", "method", "metric"]
#: Replicates of one (dataset, subset, method, seed): metric -> (B,) values on the shared item resamples.
Replicates = Mapping[tuple[str, str, str, int], Mapping[str, np.ndarray]]


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


def _status(statuses: pd.Series, n_ok: int) -> str:
    failed = statuses[statuses != "ok"]
    if failed.empty:
        return "ok"
    return failed.mode().iloc[0] if n_ok == 0 else "partial"


def _summary(values: pd.Series, replicates: list[np.ndarray | None], alpha: float) -> dict[str, Any]:
    """Mean, sample std, interval and its kind of one cell's ok values (one per seed)."""
    if not len(values):
        return {"mean": math.nan, "std": math.nan, "low": math.nan, "high": math.nan, "interval": "none"}
    stacked = np.stack(replicates) if replicates and all(r is not None for r in replicates) else None
    low, high, how = stats.interval(values.to_numpy(), stacked, alpha=alpha)
    return {
        "mean": float(values.mean()),
        "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
        "low": low,
        "high": high,
        "interval": how,
    }


def aggregate(
    rows: pd.DataFrame, metrics: dict[str, bool], replicates: Replicates | None = None, *, alpha: float = stats.ALPHA
) -> pd.DataFrame:
    """Aggregate result rows over seeds, add the subset average and rank by the main metric.

    Args:
        rows: Store rows of one budget (see :func:`select_rows`).
        metrics: The track's metric -> higher-is-better table; the first key is the main metric.
        replicates: Optional per-job resampled metrics (:func:`item_replicates`); cells of metrics found there
            get a bootstrap interval over items and seeds, the others Student's t over seeds.
        alpha: Level of the intervals.

    Returns:
        DataFrame with columns dataset, subset, method, kind, metric, mean, std (sample std over seeds), low,
        high (the ``1 - alpha`` interval), interval (``bootstrap``, ``t`` or ``none``), n_ok, n_runs, status,
        rank (rank on the main metric, 1 = best, failed methods last, within each dataset and subset). The
        average over subsets uses, per seed, the mean over subsets; a method missing any subset of that seed
        is ``partial`` in the average.
    """
    replicates = replicates or {}
    extra = sorted(set(rows["metric"]) - set(metrics))
    order = list(metrics) + extra
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    records = []
    for (dataset, subset, method, metric), group in rows.groupby(_KEYS, sort=True):
        ok = group[group["status"] == "ok"].dropna(subset=["value"]).sort_values("seed")
        reps = [replicates.get((dataset, subset, method, int(s)), {}).get(metric) for s in ok["seed"]]
        records.append({
            "dataset": dataset, "subset": subset, "method": method, "metric": metric,
            **_summary(ok["value"], reps, alpha), "n_ok": len(ok), "n_runs": group["seed"].nunique(),
            "status": _status(group["status"], len(ok)),
        })
    n_subsets = rows.groupby("dataset")["subset"].nunique().to_dict()
    for (dataset, method, metric), group in rows.groupby(["dataset", "method", "metric"], sort=True):
        ok_rows = group[group["status"] == "ok"].groupby("seed")["value"].agg(["mean", "count"])
        ok = ok_rows.loc[ok_rows["count"] == n_subsets[dataset], "mean"]
        reps = []
        for seed in ok.index:
            per_subset = [replicates.get((dataset, s, method, int(seed)), {}).get(metric)
                          for s in group["subset"].unique()]
            reps.append(None if any(r is None for r in per_subset) else np.mean(per_subset, axis=0))
        n_seeds = group["seed"].nunique()
        if len(ok) == n_seeds:
            status = "ok"
        else:
            status = "partial" if len(ok) else _status(group["status"], 0)  # "ok": a metric undefined here
        records.append({
            "dataset": dataset, "subset": MEAN_SUBSET, "method": method, "metric": metric,
            **_summary(ok, reps, alpha), "n_ok": len(ok), "n_runs": n_seeds, "status": status,
        })
    table = pd.DataFrame.from_records(records)
    table["kind"] = table["method"].map(kinds)
    table["metric"] = pd.Categorical(table["metric"], categories=order, ordered=True)
    table = _rank(table, next(iter(metrics)), higher=metrics[next(iter(metrics))])
    columns = ["dataset", "subset", "method", "kind", "metric", "mean", "std", "low", "high", "interval", "n_ok",
               "n_runs", "status", "rank"]
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


def _bootstrap_seed(dataset: str, subset: str, seed: int, n_items: int) -> int:
    from harness.api import stable_hash

    return int(stable_hash({"dataset": dataset, "subset": subset, "seed": seed, "n": n_items, "use": "bootstrap"}),
               16)


def item_replicates(
    rows: pd.DataFrame,
    track: Any,
    load_items: Callable[[str], Mapping[str, np.ndarray]],
    *,
    n_replicates: int = stats.N_REPLICATES,
) -> dict[tuple[str, str, str, int], dict[str, np.ndarray]]:
    """Every ok job's resampled metrics on the bootstrap resamples its (dataset, subset, seed) shares.

    Args:
        rows: Store rows of one budget.
        track: The :class:`~harness.api.Track` (its :meth:`~harness.api.Track.resample_metrics` and
            :attr:`~harness.api.Track.strata_item`).
        load_items: job key -> the job's stored per-item arrays (empty when none was stored).
        n_replicates: Resamples per (dataset, subset, seed).

    Returns:
        (dataset, subset, method, seed) -> metric -> float array of shape (n_replicates,).
    """
    out: dict[tuple[str, str, str, int], dict[str, np.ndarray]] = {}
    weights: dict[tuple[str, str, int], np.ndarray] = {}
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    for job in jobs.itertuples():
        items = load_items(job.job_key)
        if not items:
            continue
        n_items = len(next(iter(items.values())))
        cache_key = (job.dataset, job.subset, int(job.seed))
        if cache_key not in weights or weights[cache_key].shape[1] != n_items:
            strata = items.get(track.strata_item) if track.strata_item else None
            weights[cache_key] = stats.bootstrap_weights(
                n_items, n_replicates, _bootstrap_seed(job.dataset, job.subset, int(job.seed), n_items), strata)
        resampled = track.resample_metrics(items, weights[cache_key])
        out[(job.dataset, job.subset, job.method, int(job.seed))] = {k: np.asarray(v) for k, v in resampled.items()}
    return out


def diagnostic_frame(rows: pd.DataFrame, diagnostics: Mapping[str, Mapping[str, np.ndarray]], name: str,
                     columns: Sequence[Any] | None = None) -> pd.DataFrame:
    """One diagnostic array of every ok job as a DataFrame indexed by (dataset, subset, method, seed).

    Args:
        rows: Store rows of one budget.
        diagnostics: job key -> the job's diagnostic arrays (:meth:`harness.api.Track.diagnostics`).
        name: The array (e.g. ``"curve"``); jobs without it are left out.
        columns: Labels of the array's points (default 1, 2, ...).

    Returns:
        One row per job, one column per point; empty when no job stored the array.
    """
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    records, index = [], []
    for job in jobs.itertuples():
        points = diagnostics.get(job.job_key, {}).get(name)
        if points is not None:
            records.append(np.asarray(points, dtype=np.float64))
            index.append((job.dataset, job.subset, job.method, int(job.seed)))
    if not records:
        return pd.DataFrame()
    labels = list(columns) if columns is not None else list(range(1, len(records[0]) + 1))
    names = ["dataset", "subset", "method", "seed"]
    return pd.DataFrame(np.stack(records), index=pd.MultiIndex.from_tuples(index, names=names),
                        columns=labels).sort_index()


def cell_text(row: Any) -> str:
    """The rendered cell of one row of :func:`aggregate`'s table: costs without their interval."""
    bounds = (math.nan, math.nan) if str(row.metric) in COST_METRICS else (row.low, row.high)
    return format_cell(row.mean, *bounds, row.status, row.n_ok, row.n_runs)


def format_cell(mean: float, low: float, high: float, status: str, n_ok: int, n_runs: int, *,
                digits: int = 3) -> str:
    """Render one cell: ``0.912 [0.890, 0.930]``, ``0.912 [0.890, 0.930] (1/3 failed)``, ``0.912`` or ``TIMEOUT``.

    Values below 0.01 in magnitude (timings per item, say) keep ``digits`` significant digits; a cell without an
    interval (one seed, no per-item results) shows the mean alone.
    """
    if status not in ("ok", "partial"):
        return status.upper()

    def show(value: float) -> str:
        return f"{value:.{digits}g}" if 0 < abs(value) < 0.01 else f"{value:.{digits}f}"

    text = show(mean)
    if np.isfinite(low) and np.isfinite(high):
        text += f" [{show(low)}, {show(high)}]"
    if status == "partial":
        text += f" ({n_runs - n_ok}/{n_runs} failed)"
    return text


@dataclass
class Board:
    """Everything a leaderboard shows: the tidy table, the rank tests and the paired comparisons.

    Attributes:
        track: Track name.
        metrics: metric -> higher-is-better (main metric first; costs included).
        headline: Metrics of the first table (main metrics and costs).
        resampled: Metrics with a bootstrap over test items.
        table: Output of :func:`aggregate`.
        tests: dataset -> :class:`~harness.stats.RankTest` on the main metric.
        comparisons: One row per (dataset, method, against): difference of the main metric and its interval.
        header: Provenance lines.
        n_replicates: Bootstrap replicates per cell.
        alpha: Level of the intervals and tests.
        strata: Name of the per-item array the bootstrap is stratified by ("" for none).
        budget: Budget name.
    """

    track: str
    metrics: dict[str, bool]
    headline: list[str]
    resampled: list[str]
    table: pd.DataFrame
    tests: dict[str, stats.RankTest]
    comparisons: pd.DataFrame
    header: dict[str, str] = field(default_factory=dict)
    n_replicates: int = stats.N_REPLICATES
    alpha: float = stats.ALPHA
    strata: str = ""
    budget: str = ""

    @property
    def main(self) -> str:
        """The main metric."""
        return next(iter(self.metrics))

    def arrows(self) -> dict[str, str]:
        """Column suffix of each metric: its better direction, and ``†`` when it is not resampled over items."""
        return {m: ("↑" if up else "↓") + ("" if m in self.resampled or m in COST_METRICS else " †")
                for m, up in self.metrics.items()}

    def interval_note(self) -> str:
        """What the intervals of the table are, in one paragraph."""
        level = f"{100 * (1 - self.alpha):g} %"
        resampled = ", ".join(m for m in self.metrics if m in self.resampled) or "none"
        others = ", ".join(m for m in self.metrics if m not in self.resampled and m not in COST_METRICS) or "none"
        stratified = f" (stratified by {self.strata})" if self.strata else ""
        return (
            f"cells: mean over seeds [{level} interval]. Metrics resampled over test items ({resampled}): "
            f"percentile bootstrap of {self.n_replicates} replicates, each drawing the test items{stratified} and "
            "the seeds with replacement, the same item resamples for every method. Metrics not resampled "
            f"({others}): Student's t over seeds, no interval with one seed. Costs ({', '.join(COST_METRICS)}) "
            "show the mean over seeds alone (their intervals are in the CSV)."
        )


def rank_blocks(rows: pd.DataFrame, dataset: str, metric: str) -> pd.DataFrame:
    """The main metric per (subset, seed) block and method of one dataset; NaN for a failed job."""
    chosen = rows[(rows["dataset"] == dataset) & (rows["metric"] == metric)]
    values = chosen["value"].where(chosen["status"] == "ok")
    blocks = chosen.assign(value=values).pivot_table(
        index=["subset", "seed"], columns="method", values="value", aggfunc="first", dropna=False)
    return blocks.dropna(how="all")


def _ablations(methods: Sequence[str]) -> dict[str, list[str]]:
    """Full method -> its ablations among ``methods``: same class, kind method, a config that extends the method's."""
    from harness.registry import methods as registry

    known = {m: (registry.target(m), registry.meta(m)) for m in methods if m in registry}
    out: dict[str, list[str]] = {}
    for name, (target, meta) in known.items():
        if meta.get("kind", "method") != "method":
            continue
        config = dict(meta.get("config", {}))
        for other, (other_target, other_meta) in known.items():
            other_config = dict(other_meta.get("config", {}))
            if (other != name and other_target == target and other_meta.get("kind", "method") == "method"
                    and config.items() < other_config.items()):
                out.setdefault(name, []).append(other)
    ablations = {a for found in out.values() for a in found}
    full = [m for m, (_, meta) in known.items() if meta.get("kind", "method") == "method" and m not in ablations]
    return {m: sorted(out.get(m, [])) for m in sorted(full)}


def compare_methods(
    rows: pd.DataFrame, table: pd.DataFrame, replicates: Replicates, *, metric: str, higher: bool,
    alpha: float = stats.ALPHA,
) -> pd.DataFrame:
    """Paired comparisons per dataset: each method against its ablations and against the best baseline.

    On the item resamples every method shares (:func:`item_replicates`): a paired bootstrap of the difference
    of the mean over subsets and seeds (:func:`harness.stats.paired_difference`); without per-item results, the
    Wilcoxon signed-rank test over (subset, seed) blocks. p-values are Holm-adjusted within each dataset.

    Returns:
        DataFrame with columns dataset, method, against, relation (``ablation`` or ``best baseline``), metric,
        difference (method minus against), low, high, p, p_holm, test, n_blocks.
    """
    from scipy import stats as scipy_stats

    records = []
    for dataset, by_dataset in rows.groupby("dataset", sort=True):
        means = table[(table["dataset"] == dataset) & (table["subset"] == MEAN_SUBSET) & (table["metric"] == metric)
                      & (table["status"] == "ok")]
        baselines = means[means["kind"] == "baseline"].sort_values("mean", ascending=not higher)
        best_baseline = baselines["method"].iloc[0] if len(baselines) else None
        blocks = rank_blocks(by_dataset, dataset, metric)
        pairs = []
        for method, ablations in _ablations(sorted(by_dataset["method"].unique())).items():
            pairs += [(method, a, "ablation") for a in ablations]
            if best_baseline is not None:
                pairs.append((method, best_baseline, "best baseline"))
        start = len(records)
        for method, against, relation in pairs:
            if method not in blocks or against not in blocks:
                continue
            both = blocks[[method, against]].dropna()
            record = {"dataset": dataset, "method": method, "against": against, "relation": relation,
                      "metric": metric, "n_blocks": len(both)}
            a, b = _paired_replicates(both, replicates, dataset, method, against, metric)
            if a is not None:
                result = stats.paired_difference(a, b, alpha=alpha)
                record.update(difference=result["difference"], low=result["low"], high=result["high"],
                              p=result["p"], test="paired bootstrap")
            elif len(both) >= 2:
                diff = both[method] - both[against]
                p = 1.0 if np.all(diff == 0) else float(scipy_stats.wilcoxon(diff).pvalue)
                record.update(difference=float(diff.mean()), low=math.nan, high=math.nan, p=p,
                              test="Wilcoxon signed-rank")
            else:
                continue
            records.append(record)
        adjusted = stats.holm([r["p"] for r in records[start:]])
        for record, p in zip(records[start:], adjusted, strict=True):
            record["p_holm"] = float(p)
    columns = ["dataset", "method", "against", "relation", "metric", "difference", "low", "high", "p", "p_holm",
               "test", "n_blocks"]
    return pd.DataFrame.from_records(records, columns=columns)


def _paired_replicates(both: pd.DataFrame, replicates: Replicates, dataset: str, method: str, against: str,
                       metric: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(S, B) replicates of the two methods: per seed, the mean over the subsets both completed; None if any lacks."""
    per_seed: dict[int, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for subset, seed in both.index:
        ra = replicates.get((dataset, subset, method, int(seed)), {}).get(metric)
        rb = replicates.get((dataset, subset, against, int(seed)), {}).get(metric)
        if ra is None or rb is None:
            return None, None
        pair = per_seed.setdefault(int(seed), ([], []))
        pair[0].append(ra)
        pair[1].append(rb)
    if not per_seed:
        return None, None
    a = np.stack([np.mean(pa, axis=0) for pa, _ in per_seed.values()])
    b = np.stack([np.mean(pb, axis=0) for _, pb in per_seed.values()])
    return a, b


def build_board(
    rows: pd.DataFrame,
    *,
    track: str,
    metrics: dict[str, bool],
    budget: str,
    headline: Sequence[str] = (),
    replicates: Replicates | None = None,
    strata: str = "",
    preset: dict[str, Any] | None = None,
    n_replicates: int = stats.N_REPLICATES,
    alpha: float = stats.ALPHA,
    protocol: Mapping[str, str] | None = None,
) -> Board:
    """Aggregate the rows of one budget, test the ranks and compare the methods (see :class:`Board`).

    Args:
        rows: Store rows (every budget; :func:`select_rows` keeps ``budget``'s).
        track: Track name.
        metrics: metric -> higher-is-better (main metric first).
        budget: Budget name.
        headline: Metrics of the first table (default: the first four and the costs).
        replicates: Per-job resampled metrics (:func:`item_replicates`).
        strata: Name of the per-item array the bootstrap was stratified by, for the note.
        preset: The budget preset's fields: the header names those the rows' budget set otherwise.
        n_replicates: Replicates the resamples were drawn with, for the note.
        alpha: Level of intervals and tests.
        protocol: Dataset -> how the track split it (:meth:`harness.api.Track.protocol`), a header line.
    """
    chosen = select_rows(rows, budget=budget, track=track)
    replicates = replicates or {}
    table = aggregate(chosen, metrics, replicates, alpha=alpha)
    main = next(iter(metrics))
    tests = {}
    for dataset in sorted(chosen["dataset"].unique()):
        blocks = rank_blocks(chosen, dataset, main)
        tests[dataset] = stats.rank_test(blocks, higher_is_better=metrics[main], alpha=alpha)
    comparisons = compare_methods(chosen, table, replicates, metric=main, higher=metrics[main], alpha=alpha)
    resampled = sorted({m for per_job in replicates.values() for m in per_job})
    if not headline:
        scored = [m for m in metrics if m not in COST_METRICS]
        headline = scored[:4] + [m for m in metrics if m in COST_METRICS]
    return Board(track, dict(metrics), [m for m in headline if m in metrics], resampled, table, tests, comparisons,
                 _header(chosen, budget, preset, protocol or {}), n_replicates, alpha, strata, budget)


def _header(chosen: pd.DataFrame, budget: str, preset: dict[str, Any] | None,
            protocol: Mapping[str, str]) -> dict[str, str]:
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
    shown = {d: protocol[d] for d in sorted(chosen["dataset"].unique()) if protocol.get(d)}
    if len(set(shown.values())) == 1 and len(shown) == chosen["dataset"].nunique():
        header["protocol"] = next(iter(shown.values()))
    elif shown:
        header["protocol"] = " | ".join(f"{d}: {text}" for d, text in shown.items())
    return header


def significance_marks(board: Board, dataset: str) -> dict[str, str]:
    """Map each method to ``"best"``, ``"≈"`` (not significantly different from the best) or ``""``."""
    test = board.tests.get(dataset)
    if test is None or not test.methods:
        return {}
    return {m: "best" if m == test.methods[0] else ("≈" if m in test.tied_with_best else "")
            for m in test.methods}


def cd_path(track: str, dataset: str, budget: str) -> str:
    """Path of a dataset's critical-difference diagram under a budget, relative to ``results/leaderboards``."""
    return f"{track}/cd-{dataset}-{budget}.png"


def draw_cd(board: Board, dataset: str, target: Any) -> Any:
    """Draw the critical-difference diagram of one dataset of ``board`` to ``target`` (a path or a buffer).

    Returns ``target``, or None when the dataset has no post-hoc test to draw.
    """
    test = board.tests.get(dataset)
    if test is None:
        return None
    rows = board.table[board.table["dataset"] == dataset]
    kinds = rows.groupby("method")["kind"].first().to_dict()
    title = f"{board.track} / {dataset}: average rank on {board.main} (budget {board.budget})"
    return stats.cd_diagram(test, target, title=title, kinds=kinds)


def render_markdown(board: Board, *, figures: Sequence[str] = (), cd_figures: Mapping[str, str] | None = None) -> str:
    """Render the Markdown leaderboard.

    Per dataset: the main metrics and costs averaged over subsets (ranked, with intervals and the methods not
    significantly different from the best), the rank test and its diagram, the paired comparisons, every
    metric averaged over subsets, the main metric per subset, and every metric of each subset.
    """
    from tabulate import tabulate

    cd_figures = cd_figures or {}
    main = board.main
    lines = [f"# Leaderboard: {board.track}", ""]
    lines += [f"- {key}: {value}" for key, value in board.header.items()]
    lines += [f"- {board.interval_note()}", "- arrows give the better direction; `†`: not resampled over items "
              "(interval over seeds only); rank: by the mean of the main metric; `≈`: not significantly different "
              "from the best by the rank test below", ""]
    arrow = board.arrows()
    table = board.table
    for dataset, by_dataset in table.groupby("dataset", sort=True):
        mean_rows = by_dataset[by_dataset["subset"] == MEAN_SUBSET]
        n_subsets = by_dataset.loc[by_dataset["subset"] != MEAN_SUBSET, "subset"].nunique()
        ranks = mean_rows.groupby("method")["rank"].min().sort_values(kind="stable")
        marks = significance_marks(board, dataset)
        lines += [f"## {dataset}: main metrics and costs (average over {n_subsets} subset(s), ranked by "
                  f"{main} {arrow.get(main, '')})", ""]
        lines.append(_pivot_markdown(mean_rows[mean_rows["metric"].isin(board.headline)], ranks, "metric", arrow,
                                     tabulate, marks))
        test = board.tests.get(dataset)
        if test is not None:
            lines += ["", f"Rank test on {main}: {test.describe()}. Average ranks: "
                      + ", ".join(f"{m} {r:.2f}" for m, r in zip(test.methods, test.ranks, strict=True)) + "."]
            if dataset in cd_figures:
                lines += ["", f"![critical-difference diagram]({cd_figures[dataset]})"]
        comparisons = board.comparisons[board.comparisons["dataset"] == dataset]
        if not comparisons.empty:
            lines += ["", f"### {dataset}: paired comparisons on {main} (method minus the other; mean over "
                      "subsets and seeds)", ""]
            body = [[r.method, r.against, r.relation, _difference(r), f"{r.p:.3g}", f"{r.p_holm:.3g}", r.test,
                     int(r.n_blocks)] for r in comparisons.itertuples()]
            lines.append(tabulate(body, headers=["method", "against", "relation", "difference [interval]", "p",
                                                 "p (Holm)", "test", "blocks"], tablefmt="github",
                                  disable_numparse=True))
        if set(mean_rows["metric"].astype(str)) - set(board.headline):
            lines += ["", f"### {dataset}: every metric (average over subsets)", ""]
            lines.append(_pivot_markdown(mean_rows, ranks, "metric", arrow, tabulate, marks))
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


def _difference(row: Any) -> str:
    text = f"{row.difference:+.3f}"
    if np.isfinite(row.low) and np.isfinite(row.high):
        text += f" [{row.low:+.3f}, {row.high:+.3f}]"
    return text


def _pivot_markdown(rows: pd.DataFrame, ranks: pd.Series, columns: str, arrow: dict[str, str], tabulate: Any,
                    marks: Mapping[str, str] | None = None) -> str:
    """One row per method in the order of ``ranks`` (the average's ranks), one column per ``columns`` value."""
    cells = rows.assign(cell=[cell_text(r) for r in rows.itertuples()])
    kinds = rows.groupby("method")["kind"].first()
    pivot = cells.pivot_table(index="method", columns=columns, values="cell", aggfunc="first", observed=True)
    order = [m for m in ranks.index if m in pivot.index]
    headers = ["rank", "method", "kind"] + (["≈ best"] if marks is not None else [])
    headers += [f"{c} {arrow.get(str(c), '')}".strip() for c in pivot.columns]
    body = [[int(ranks[m]), m, kinds[m], *([marks.get(m, "")] if marks is not None else []),
             *pivot.loc[m].fillna("—").tolist()] for m in order]
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
    """Build the board of one budget's rows (without per-item results) and write it (:func:`write_board`).

    ``preset`` is the budget preset's fields (:meth:`harness.api.Budget.to_dict`): the header then lists the
    fields the rows' budget (column ``budget_json``) set otherwise (``--set``), so a table run under overrides
    says so.

    Returns:
        The CSV and Markdown paths.
    """
    board = build_board(rows, track=track, metrics=metrics, budget=budget, preset=preset)
    return write_board(board, out_dir, figures=figures)


def write_board(board: Board, out_dir: Path, *, figures: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write ``<out_dir>/<track>.csv`` and ``.md``, the comparisons and the critical-difference diagrams.

    Args:
        board: From :func:`build_board`.
        out_dir: ``results/leaderboards``.
        figures: PNGs to link under "Figures", relative to ``out_dir``.

    Returns:
        The CSV and Markdown paths.
    """
    track, budget = board.track, board.budget
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"{track}.csv", out_dir / f"{track}.md"
    numeric = board.table.copy()
    numeric[["mean", "std", "low", "high"]] = numeric[["mean", "std", "low", "high"]].astype(float).round(6)
    numeric.to_csv(csv_path, index=False)
    if not board.comparisons.empty:
        (out_dir / track).mkdir(exist_ok=True)
        board.comparisons.round(6).to_csv(out_dir / track / f"comparisons-{budget}.csv", index=False)
    cd_figures = {}
    for dataset in board.tests:
        if draw_cd(board, dataset, out_dir / cd_path(track, dataset, budget)) is not None:
            cd_figures[dataset] = cd_path(track, dataset, budget)
    shown = [f for f in figures if f not in cd_figures.values()]
    md_path.write_text(render_markdown(board, figures=shown, cd_figures=cd_figures))
    return csv_path, md_path
