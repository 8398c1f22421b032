"""Singular-value spectra of the item embeddings, per method, drawn from the stored points of a whole table.

Each job stores the singular values of its global item table and the mean over the measured users of their
personalised tables, divided by the largest (diagnostic arrays ``spectrum_global`` and ``spectrum_personal``).
:func:`spectrum_figures` draws, per (dataset, subset), one panel per table: the mean over seeds per method on a
log scale, methods (not baselines) drawn thicker. A spectrum that falls fast is a collapsed table: few directions
carry the embeddings (dimensional collapse); a flat one uses every dimension.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["spectrum_figures", "spectrum_table"]

TABLES = ("global", "personal")


def spectrum_table(rows: Any, diagnostics: Any, table: str) -> Any:
    """Return the ok jobs' spectra of ``table`` as a DataFrame indexed by (dataset, subset, method, seed).

    Args:
        rows: Store rows of one budget.
        diagnostics: job key -> the job's diagnostic arrays (``spectrum_global``, ``spectrum_personal``).
        table: ``"global"`` or ``"personal"``.
    """
    from harness.leaderboard import diagnostic_frame

    return diagnostic_frame(rows, diagnostics, f"spectrum_{table}")


def spectrum_figures(rows: Any, out_dir: Path, diagnostics: Any) -> list[Path]:
    """Write ``<dataset>-<subset>-spectra.png`` per (dataset, subset) into ``out_dir``; return the paths.

    Args:
        rows: Store rows of one budget (pandas DataFrame with the store's columns).
        out_dir: Folder of the figures (created).
        diagnostics: job key -> the job's diagnostic arrays.

    Returns:
        The paths written; empty when no job stored a spectrum.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tables = {table: spectrum_table(rows, diagnostics, table) for table in TABLES}
    if tables["global"].empty:
        return []
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    budget_name = str(rows["budget"].iloc[0])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for (dataset, subset), _ in tables["global"].groupby(level=["dataset", "subset"]):
        fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.4), dpi=110, sharey=True)
        methods = sorted(tables["global"].loc[(dataset, subset)].index.get_level_values("method").unique())
        colors = plt.get_cmap("tab20")
        for ax, table in zip(axes, TABLES, strict=True):
            data = tables[table].loc[(dataset, subset)]
            for i, method in enumerate(methods):
                if method not in data.index.get_level_values("method"):
                    continue
                mean = data.loc[method].mean(axis=0).to_numpy()
                shown = mean > 0
                if not shown.any():
                    continue
                x = np.arange(1, len(mean) + 1)[shown]
                is_method = kinds.get(method) == "method"
                ax.plot(x, mean[shown], color=colors(i % 20), lw=2.4 if is_method else 1.3,
                        ls="-" if is_method else "--", marker="o" if shown.sum() < 4 else None, ms=3, label=method)
            ax.set_yscale("log")
            ax.set_xlabel("singular value index")
            ax.set_title(f"{table} item table" if table == "global" else "personalised item tables (mean over users)")
            ax.title.set_fontsize(9)
            ax.grid(alpha=0.3, which="both")
        axes[0].set_ylabel("singular value / largest")
        axes[1].legend(fontsize=7, loc="lower left", ncol=2)
        fig.suptitle(f"{dataset} / {subset}: singular-value spectra of the item embeddings (budget {budget_name}, "
                     "mean over seeds)", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{dataset}-{subset}-spectra.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
