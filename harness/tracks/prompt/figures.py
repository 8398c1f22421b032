"""The prompt track's leaderboard figure: accuracy and base-to-novel harmonic mean against shots per class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["shot_curves", "shot_table"]

#: (metric, axis label) of the figure's two panels.
PANELS = (("accuracy", "few-shot accuracy (all classes)"), ("harmonic_mean", "base-to-novel harmonic mean"))


def shot_table(rows: Any, metric: str) -> dict[str, dict[str, np.ndarray]]:
    """Dataset -> method -> float (n_shots, 2) of (shots, mean over seeds of ``metric``), ok jobs only."""
    ok = rows[(rows["status"] == "ok") & (rows["metric"] == metric) & rows["subset"].str.startswith("shots")]
    out: dict[str, dict[str, np.ndarray]] = {}
    for (dataset, method), group in ok.groupby(["dataset", "method"]):
        means = group.groupby("subset")["value"].mean()
        points = sorted((int(subset.removeprefix("shots")), float(v)) for subset, v in means.items())
        out.setdefault(str(dataset), {})[str(method)] = np.array(points, dtype=np.float64)
    return out


def shot_curves(rows: Any, out_dir: Path) -> list[Path]:
    """Write ``<dataset>-accuracy-vs-shots.png``: one curve per method, shots on a log axis.

    Args:
        rows: The store's rows of one budget (``dataset``, ``subset``, ``method``, ``method_kind``, ``metric``,
            ``value``, ``status``, ``budget``).
        out_dir: Where the PNGs go.

    Returns:
        The paths written; empty without ok rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not len(rows):
        return []
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    budget_name = str(rows["budget"].iloc[0])
    tables = {metric: shot_table(rows, metric) for metric, _ in PANELS}
    written = []
    colors = plt.get_cmap("tab20")
    for dataset in sorted(tables["accuracy"]):
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.4), dpi=110)
        for ax, (metric, label) in zip(axes, PANELS, strict=True):
            by_method = tables[metric].get(dataset, {})
            for i, method in enumerate(sorted(by_method)):
                curve = by_method[method]
                main = kinds.get(method) == "method"
                ax.plot(curve[:, 0], curve[:, 1], color=colors(i % 20), lw=2.2 if main else 1.2,
                        ls="-" if main else "--", marker="o", ms=3, label=method)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("shots per class")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, ncol=2)
        fig.suptitle(f"{dataset}: accuracy against shots (budget {budget_name}, mean over seeds)", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{dataset}-accuracy-vs-shots.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
