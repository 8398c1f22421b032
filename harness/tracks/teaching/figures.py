"""Figures and detail tables of the teaching track.

- :func:`scatter_figure`: one job's predicted against true values, one panel per target (written per method).
- :func:`detail_tables`: from the stored diagnostics of a whole table, the per-target metrics
  (``per_target.{csv,md}``: CCC, Pearson's r, RMSE and MAE of each target, mean and sample std over the
  (fold, seed) jobs) and each modality's contribution (``modalities.{csv,md}``: mean CCC of the full inputs minus
  mean CCC with that modality removed at test time), plus a bar chart of each (``per_target_ccc.png``,
  ``modality_contribution.png``). The targets and modalities are the dataset's own, which is why they live here
  and not among the track's fixed metric columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["detail_frame", "detail_tables", "scatter_figure"]

#: Per-target metrics stored as diagnostics ``<metric>.<target>``.
PER_TARGET = ("ccc", "pearson", "rmse", "mae")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_figure(pred: np.ndarray, true: np.ndarray, names: Sequence[str], path: Path, *, title: str) -> None:
    """Write a PNG of predicted (y) against true (x) values, one panel per target, with the identity line.

    Args:
        pred: float array of shape (n_items, n_targets).
        true: float array of shape (n_items, n_targets).
        names: The target names (n_targets,).
        path: The PNG to write.
        title: The figure's title.
    """
    from harness.metrics.agreement import ccc

    plt = _pyplot()
    n = len(names)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.7), dpi=100, squeeze=False, layout="constrained")
    for j, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
        p, t = pred[:, j], true[:, j]
        low, high = float(min(p.min(), t.min())), float(max(p.max(), t.max()))
        ax.plot([low, high], [low, high], color="0.6", lw=1, ls="--")
        ax.scatter(t, p, s=6, alpha=0.5, color="tab:blue", edgecolors="none")
        score = ccc(p, t) if np.ptp(p) > 0 or np.ptp(t) > 0 else 0.0
        ax.set_title(f"{name}: CCC {score:.3f}", fontsize=9)
        ax.set_xlabel("true")
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("predicted")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path)
    plt.close(fig)


def detail_frame(rows: pd.DataFrame, diagnostics: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Every ok job's scalar diagnostics as one long frame: dataset, method, kind, seed, subset, name, value.

    ``name`` is the diagnostic's key (``ccc.<target>``, ``contribution.<modality>``, ...).
    """
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    records = []
    for job in jobs.itertuples():
        for name, value in diagnostics.get(job.job_key, {}).items():
            records.append({"dataset": job.dataset, "method": job.method, "kind": getattr(job, "method_kind", ""),
                            "seed": int(job.seed), "subset": job.subset, "name": name,
                            "value": float(np.asarray(value).ravel()[0])})
    return pd.DataFrame.from_records(records, columns=["dataset", "method", "kind", "seed", "subset", "name", "value"])


def _summary(frame: pd.DataFrame, prefix: str, order: Sequence[str]) -> pd.DataFrame:
    """Mean and std over (fold, seed) jobs of the diagnostics ``<prefix>.<x>``, one row per (dataset, method)."""
    part = frame[frame["name"].str.startswith(prefix + ".")].copy()
    part["what"] = part["name"].str.slice(len(prefix) + 1)
    table = part.groupby(["dataset", "method", "what"])["value"].agg(["mean", "std"]).reset_index()
    table["cell"] = [f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}" for m, s in zip(table["mean"], table["std"],
                                                                                        strict=True)]
    wide = table.pivot(index=["dataset", "method"], columns="what", values="cell")
    means = table.pivot(index=["dataset", "method"], columns="what", values="mean")
    columns = [c for c in order if c in wide.columns] + [c for c in pd.unique(part["what"]) if c not in order]
    return wide[columns], means[columns]


def _bars(means: pd.DataFrame, path: Path, *, ylabel: str, title: str) -> None:
    plt = _pyplot()
    methods = list(means.index)
    columns = list(means.columns)
    width = 0.8 / max(1, len(columns))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(methods) * max(1, len(columns)) / 2 + 3), 4.2), dpi=110)
    x = np.arange(len(methods))
    colors = plt.get_cmap("tab10")
    for k, column in enumerate(columns):
        ax.bar(x + (k - (len(columns) - 1) / 2) * width, means[column].to_numpy(), width, label=column,
               color=colors(k % 10))
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(x, methods, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, ncols=min(4, len(columns)))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _markdown(table: pd.DataFrame, title: str, note: str) -> str:
    body = table.reset_index().to_markdown(index=False)
    return f"# {title}\n\n{note}\n\n{body}\n"


def detail_tables(rows: pd.DataFrame, out_dir: Path, diagnostics: Mapping[str, Mapping[str, np.ndarray]]) -> list[Path]:
    """Write the per-target and per-modality tables (CSV + Markdown) and bar charts into ``out_dir``.

    Args:
        rows: Store rows of one budget.
        out_dir: ``results/leaderboards/teaching`` (created).
        diagnostics: job key -> the job's diagnostic arrays.

    Returns:
        The files written; empty when no job stored diagnostics.
    """
    frame = detail_frame(rows, diagnostics)
    if frame.empty:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    budget = str(rows["budget"].iloc[0])
    ranking = frame[frame["name"].str.startswith("ccc.")].groupby(["dataset", "method"])["value"].mean()
    written: list[Path] = []
    per_target = []
    for metric in PER_TARGET:
        cells, means = _summary(frame, metric, ())
        cells.columns = [f"{metric} {c}" for c in cells.columns]
        per_target.append((cells, means))
    cells = pd.concat([c for c, _ in per_target], axis=1)
    cells = cells.loc[ranking.sort_values(ascending=False).index.intersection(cells.index, sort=False)]
    contributions, contribution_means = _summary(frame, "contribution", ())
    contributions = contributions.loc[ranking.sort_values(ascending=False).index.intersection(contributions.index,
                                                                                           sort=False)]
    outputs = {
        "per_target": (cells, "Per-target agreement",
                       f"Budget `{budget}`. Mean ± sample std over the (fold, seed) jobs; rows by mean CCC."),
        "modalities": (contributions, "Modality contribution (drop one at test time)",
                       f"Budget `{budget}`. Mean CCC of the full inputs minus mean CCC with the modality removed from "
                       "every test item (all its values missing); positive: the method relies on it. Mean ± sample std "
                       "over the (fold, seed) jobs."),
    }
    for stem, (table, title, note) in outputs.items():
        csv, md = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
        table.reset_index().to_csv(csv, index=False)
        md.write_text(_markdown(table, title, note))
        written += [csv, md]
    for dataset in sorted(frame["dataset"].unique()):
        order = ranking.loc[dataset].sort_values(ascending=False).index
        ccc_means = per_target[0][1].loc[dataset].loc[order]
        path = out_dir / f"{dataset}-per_target_ccc.png"
        _bars(ccc_means, path, ylabel="CCC (mean over folds and seeds)", title=f"{dataset}: CCC per target ({budget})")
        written.append(path)
        if not contribution_means.empty and dataset in contribution_means.index.get_level_values(0):
            path = out_dir / f"{dataset}-modality_contribution.png"
            _bars(contribution_means.loc[dataset].loc[order.intersection(contribution_means.loc[dataset].index,
                                                                          sort=False)], path,
                  ylabel="mean CCC lost without the modality",
                  title=f"{dataset}: contribution of each modality (drop one at test time, {budget})")
            written.append(path)
    return written
