"""The static HTML report of a track: one self-contained page per track (images inline) plus an index.

:func:`write_report` renders a :class:`~harness.leaderboard.Board` with Jinja2: the provenance header, per dataset
the main table with intervals and significance marks (sortable by any column, in the page's own script), the rank
test and its critical-difference diagram, the paired comparisons, a quality-vs-cost scatter with one point per
method, the main metric per subset, every metric per subset, and the figures the track wrote beside its
leaderboard. Nothing is fetched: every image is a ``data:`` URI and the page has no external script or style.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.leaderboard import MEAN_SUBSET, Board, cell_text, draw_cd, significance_marks

__all__ = ["quality_cost_figure", "write_index", "write_report"]

_TEMPLATES = Path(__file__).parent / "templates"


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=jinja2.select_autoescape(),
                              trim_blocks=True, lstrip_blocks=True)


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def quality_cost_figure(board: Board, dataset: str, cost: str) -> bytes | None:
    """PNG bytes of the main metric (with its interval) against ``cost``, one point per method; None if no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = board.table[(board.table["dataset"] == dataset) & (board.table["subset"] == MEAN_SUBSET)
                       & (board.table["status"] == "ok")]
    quality = rows[rows["metric"] == board.main].set_index("method")
    costs = rows[rows["metric"] == cost].set_index("method")["mean"]
    methods = [m for m in quality.index if m in costs.index and np.isfinite(costs[m])]
    if not methods:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=110)
    for method in methods:
        cell = quality.loc[method]
        is_method = cell["kind"] == "method"
        y, low, high = cell["mean"], cell["low"], cell["high"]
        errors = [[y - low], [high - y]] if np.isfinite(low) and np.isfinite(high) else None
        ax.errorbar([costs[method]], [y], yerr=errors, fmt="o" if is_method else "s", ms=7 if is_method else 5,
                    capsize=3, color="tab:red" if is_method else "tab:blue")
        ax.annotate(method, (costs[method], y), textcoords="offset points", xytext=(5, 4), fontsize=7,
                    fontweight="bold" if is_method else "normal")
    positive = costs[methods]
    if (positive > 0).all() and positive.max() / positive.min() > 20:
        ax.set_xscale("log")
    arrow = "↑" if board.metrics.get(board.main, True) else "↓"
    ax.set_xlabel(f"{cost} (mean over subsets and seeds; lower is cheaper)")
    ax.set_ylabel(f"{board.main} {arrow} (95% interval)" if board.alpha == 0.05 else board.main)
    ax.set_title(f"{board.track} / {dataset}: quality against cost (red: methods, blue: baselines)", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _sort_value(mean: float, status: str) -> str:
    return "" if status not in ("ok", "partial") or not np.isfinite(mean) else repr(float(mean))


def _table(rows: pd.DataFrame, order: Sequence[str], columns: str, arrow: dict[str, str],
           marks: dict[str, str] | None, ranks: pd.Series) -> dict[str, Any]:
    """A table for the template: headers and rows of cells (text, sort value)."""
    kinds = rows.groupby("method")["kind"].first()
    keys = [c for c in rows[columns].astype(str).unique()]
    if columns == "metric":
        categories = [str(c) for c in rows["metric"].cat.categories if str(c) in keys]
        keys = categories
    headers = ["rank", "method", "kind", *(["≈ best"] if marks is not None else []),
               *[f"{k} {arrow.get(k, '')}".strip() for k in keys]]
    lookup = {(r.method, str(getattr(r, columns))): r for r in rows.itertuples()}
    body = []
    for method in order:
        if not any((method, k) in lookup for k in keys):
            continue
        cells = [(str(int(ranks.get(method, 0))), repr(float(ranks.get(method, 0)))), (method, method),
                 (str(kinds.get(method, "")), str(kinds.get(method, "")))]
        if marks is not None:
            cells.append((marks.get(method, ""), {"best": "0", "≈": "1"}.get(marks.get(method, ""), "2")))
        for key in keys:
            r = lookup.get((method, key))
            if r is None:
                cells.append(("—", ""))
                continue
            cells.append((cell_text(r), _sort_value(r.mean, r.status)))
        body.append({"cells": cells, "is_method": kinds.get(method) == "method"})
    return {"headers": headers, "rows": body}


def _datasets(board: Board, figures: dict[str, bytes], cost: str) -> list[dict[str, Any]]:
    arrow = board.arrows()
    out = []
    for dataset, by_dataset in board.table.groupby("dataset", sort=True):
        mean_rows = by_dataset[by_dataset["subset"] == MEAN_SUBSET]
        ranks = mean_rows.groupby("method")["rank"].min().sort_values(kind="stable")
        order = list(ranks.index)
        marks = significance_marks(board, dataset)
        test = board.tests.get(dataset)
        buffer = io.BytesIO()
        cd_uri = _png_uri(buffer.getvalue()) if draw_cd(board, dataset, buffer) is not None else None
        comparisons = board.comparisons[board.comparisons["dataset"] == dataset]
        scatter = quality_cost_figure(board, dataset, cost)
        per_subset = by_dataset[by_dataset["subset"] != MEAN_SUBSET]
        subsets = []
        for subset, rows in per_subset.groupby("subset", sort=True):
            subsets.append({"name": subset, "table": _table(rows, order, "metric", arrow, None, ranks)})
        out.append({
            "name": dataset,
            "n_subsets": per_subset["subset"].nunique(),
            "headline": _table(mean_rows[mean_rows["metric"].isin(board.headline)], order, "metric", arrow, marks,
                               ranks),
            "every_metric": _table(mean_rows, order, "metric", arrow, marks, ranks),
            "test": test.describe() if test else "",
            "ranks": list(zip(test.methods, [f"{r:.2f}" for r in test.ranks], strict=True)) if test else [],
            "cd": cd_uri,
            "comparisons": [
                {"method": r.method, "against": r.against, "relation": r.relation,
                 "difference": f"{r.difference:+.3f}" + (f" [{r.low:+.3f}, {r.high:+.3f}]" if np.isfinite(r.low)
                                                         else ""),
                 "sort": repr(float(r.difference)), "p": f"{r.p:.3g}", "p_holm": f"{r.p_holm:.3g}", "test": r.test,
                 "blocks": int(r.n_blocks)}
                for r in comparisons.itertuples()
            ],
            "scatter": _png_uri(scatter) if scatter else None,
            "cost": cost,
            "per_subset": _table(per_subset[per_subset["metric"] == board.main], order, "subset", arrow, None, ranks)
            if per_subset["subset"].nunique() > 1 else None,
            "subsets": subsets,
        })
    return out


def write_report(board: Board, figures_dir: Path, out_dir: Path, *, cost: str = "predict_s_per_item",
                 description: str = "") -> Path:
    """Write ``<out_dir>/<track>-<budget>.html`` (self-contained) and refresh ``<out_dir>/index.html``.

    Returns the page's path.

    Args:
        board: From :func:`harness.cli.leaderboard.track_board`.
        figures_dir: ``results/leaderboards/<track>``: every PNG there is shown (the CD diagrams in their place).
        out_dir: Folder of the report (``results/report``).
        cost: The cost metric of the quality-vs-cost scatter.
        description: One line on the track.
    """
    written_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    figures = {p.name: _png_uri(p.read_bytes()) for p in sorted(Path(figures_dir).glob("*.png"))}
    page = _environment().get_template("track.html.j2").render(
        board=board,
        description=description,
        interval_note=board.interval_note(),
        datasets=_datasets(board, figures, cost),
        figures=[(name, uri) for name, uri in figures.items() if not name.startswith("cd-")],
        written_at=written_at,
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{board.track}-{board.budget}.html"
    path.write_text(page, encoding="utf-8")
    summary = {
        "track": board.track, "description": description, "budget": board.header.get("budget", ""),
        "commit": board.header.get("commit", ""), "main": board.main,
        "best": next(iter(board.tests.values())).methods[0] if board.tests else "",
        "datasets": sorted(board.tests), "written_at": written_at,
    }
    summary["page"] = path.name
    (out_dir / f"{board.track}-{board.budget}.json").write_text(json.dumps(summary, indent=2) + "\n")
    write_index(out_dir)
    return path


def write_index(out_dir: Path) -> Path:
    """Write ``<out_dir>/index.html`` linking every page in the folder (from their ``<track>-<budget>.json``)."""
    out_dir = Path(out_dir)
    entries = []
    for path in sorted(out_dir.glob("*.json")):
        try:
            entries.append(json.loads(path.read_text()))
        except ValueError:
            continue
    page = _environment().get_template("index.html.j2").render(entries=entries, escape=html.escape)
    index = out_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index
