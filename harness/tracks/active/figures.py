"""Learning-curve figures of the active track, drawn from the stored curve points of a whole table.

Each job stores its test accuracy at every 5 % of the label budget (the diagnostic array ``curve``);
:func:`learning_curve_figures` draws, per (dataset, subset), the mean over seeds and a
band of one standard deviation, one line per method, methods (not baselines) drawn thicker.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["curve_table", "learning_curve_figures"]


def curve_table(rows: Any, diagnostics: Any, percents: Sequence[int]) -> Any:
    """Return the ok jobs' curves as a DataFrame indexed by (dataset, subset, method, seed), one column per point.

    Args:
        rows: Store rows of one budget.
        diagnostics: job key -> the job's diagnostic arrays (``curve``).
        percents: Percent of the label budget of each point (the columns).
    """
    from harness.leaderboard import diagnostic_frame

    return diagnostic_frame(rows, diagnostics, "curve", percents)


def learning_curve_figures(rows: Any, out_dir: Path, diagnostics: Any, *, percents: Sequence[int]) -> list[Path]:
    """Write one PNG per (dataset, subset) into ``out_dir``, named ``<dataset>-<subset>.png``.

    Args:
        rows: Store rows of one budget (pandas DataFrame with the store's columns).
        out_dir: Folder of the figures (created).
        diagnostics: job key -> the job's diagnostic arrays.
        percents: Percent of the label budget of each point.

    Returns:
        The paths written; empty when no job stored a curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = curve_table(rows, diagnostics, percents)
    if table.empty:
        return []
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    budget_name = str(rows["budget"].iloc[0])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    x = np.asarray(percents, dtype=float)
    written = []
    for (dataset, subset), group in table.groupby(level=["dataset", "subset"]):
        means = group.groupby(level="method").mean()
        stds = group.groupby(level="method").std(ddof=0)
        n_seeds = group.groupby(level="method").size()
        order = means.mean(axis=1).sort_values(ascending=False).index
        fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
        colors = plt.get_cmap("tab10")
        for i, method in enumerate(order):
            mean, std = means.loc[method].to_numpy(), stds.loc[method].to_numpy()
            is_method = kinds.get(method) == "method"
            area = float(np.sum((mean[1:] + mean[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))
            label = f"{method} (AULC {area:.3f}, n={int(n_seeds[method])})"
            ax.plot(x, mean, color=colors(i % 10), lw=2.6 if is_method else 1.4, label=label,
                    ls="-" if is_method or i < 10 else "--")
            ax.fill_between(x, mean - std, mean + std, color=colors(i % 10), alpha=0.12, lw=0)
        ax.set_xlabel("labels queried (% of the label budget)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"{dataset} / {subset}: learning curves (budget {budget_name}, mean ± std over seeds)")
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = out_dir / f"{dataset}-{subset}.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
