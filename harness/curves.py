"""One figure per dataset and subset of a vector diagnostic (a curve per job), mean over seeds, a line per method.

The image tracks store curves as diagnostics (BoxAcc against the map threshold, CMC against the rank) and draw
them the same way: :func:`method_curves` reads them through :func:`harness.leaderboard.diagnostic_frame` and
styles each line by its method's kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["method_curves"]

#: kind -> (line style, line width) of the default styling: the paper's methods bold, the rest dashed.
DEFAULT_STYLES: Mapping[str, tuple[str, float]] = {"method": ("-", 2.2)}
_OTHER = ("--", 1.2)


def method_curves(
    rows: Any, out_dir: Path, diagnostics: Any, *, name: str, x: Callable[[int], np.ndarray], xlabel: str,
    ylabel: str, title: str, suffix: str, styles: Mapping[str, tuple[str, float]] = DEFAULT_STYLES,
    labels: Mapping[str, str] | None = None, log_x: bool = False,
) -> list[Path]:
    """Write ``<dataset>-<subset>-<suffix>.png`` for every dataset and subset with a stored ``name`` curve.

    Args:
        rows: The store's rows of one budget (needs ``method``, ``method_kind``, ``budget``).
        out_dir: Where the PNGs go.
        diagnostics: job key -> its diagnostic arrays.
        name: The diagnostic to draw.
        x: ``x(n_points)`` -> the x values of a curve of ``n_points``.
        xlabel: Label of the x axis.
        ylabel: Label of the y axis, which spans [0, 1].
        title: What the curve is; the title adds the dataset, subset and budget.
        suffix: End of the file name.
        styles: kind -> (line style, width); other kinds are dashed and thin.
        labels: kind -> text appended to the legend entry of a method of that kind (e.g. ``" (reference)"``).
        log_x: Logarithmic x axis.

    Returns:
        The paths written; empty when no job stored the curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.leaderboard import diagnostic_frame

    table = diagnostic_frame(rows, diagnostics, name)
    if table.empty:
        return []
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    budget_name = str(rows["budget"].iloc[0])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    colors = plt.get_cmap("tab10")
    for (dataset, subset), _ in table.groupby(level=["dataset", "subset"]):
        data = table.loc[(dataset, subset)]
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        for i, method in enumerate(sorted(data.index.get_level_values("method").unique())):
            mean = data.loc[method].mean(axis=0).to_numpy()
            kind = kinds.get(method, "")
            style, width = styles.get(kind, _OTHER)
            label = method + (labels or {}).get(kind, "")
            ax.plot(x(len(mean)), mean, color=colors(i % 10), lw=width, ls=style, label=label)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3, which="both" if log_x else "major")
        ax.legend(fontsize=7)
        ax.set_title(f"{dataset} / {subset}: {title} (budget {budget_name}, mean over seeds)", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{dataset}-{subset}-{suffix}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
