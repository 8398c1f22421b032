"""The early-exit track's diagnostics (the sweep table of each job) and its leaderboard figures.

:func:`sweep_diagnostics` stores, per job, the columns of :func:`~harness.tracks.earlyexit.sweep.sweep_table`
(``sweep_threshold``, ``sweep_accuracy``, ``sweep_mean_exit_layer``, ``sweep_flops_per_image``,
``sweep_speedup_flops``, ``sweep_speedup_bs1``, ``sweep_speedup_batch``), the accuracy and depth of every exit,
and the measured costs. :func:`speedup_curves` draws, per dataset and subset, accuracy against measured speed-up
at batch size 1 (and a second figure against FLOPs speed-up): one curve per method, each point the mean over
seeds of one threshold of the method's sweep (every seed of a method sweeps the same thresholds), the full model
at 1x included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.tracks.earlyexit.sweep import ExitCosts, sweep_table

__all__ = ["sweep_diagnostics", "speedup_curves"]

#: (diagnostic of the x values, file suffix, axis label) of each figure.
FIGURES = (
    ("sweep_speedup_bs1", "accuracy-vs-speedup", "measured speed-up over the full backbone (batch size 1)"),
    ("sweep_speedup_flops", "accuracy-vs-flops-speedup", "FLOPs speed-up over the full backbone"),
)


def sweep_diagnostics(predictions: Any, labels: np.ndarray) -> dict[str, np.ndarray]:
    """The sweep table and per-exit arrays of one job (float64 arrays, see the module docstring)."""
    logits = predictions["exit_logits"]
    costs = {
        name: ExitCosts(predictions[f"seconds_exit_{name}"], float(predictions[f"seconds_full_{name}"][0]))
        for name in ("bs1", "batch")
    }
    table = sweep_table(
        logits, labels, predictions["exit_layers"], thresholds=predictions["thresholds"],
        exit_depths=predictions["exit_depths"],
        flops=ExitCosts(predictions["flops_exit"], float(predictions["flops_full"][0])), seconds=costs,
    )
    out = {f"sweep_{column}": table[column].to_numpy(dtype=np.float64) for column in
           ("threshold", "accuracy", "mean_exit_layer", "flops_per_image", "speedup_flops", "speedup_bs1",
            "speedup_batch")}
    out["exit_accuracy"] = (np.argmax(logits, axis=2) == np.asarray(labels)[None, :]).mean(axis=1)
    out["exit_depths"] = predictions["exit_depths"].astype(np.float64)
    for name in ("flops_exit", "flops_full", "seconds_exit_bs1", "seconds_full_bs1", "seconds_exit_batch",
                 "seconds_full_batch"):
        out[name] = predictions[name].astype(np.float64)
    return out


def _curves(rows: Any, diagnostics: Any, x_name: str) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """(dataset, subset) -> method -> float (n_points, 2) of (speed-up, accuracy), the mean over seeds."""
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    points: dict[tuple[str, str], dict[str, list[np.ndarray]]] = {}
    for job in jobs.itertuples():
        arrays = diagnostics.get(job.job_key, {})
        if x_name not in arrays or "sweep_accuracy" not in arrays:
            continue
        full = float(arrays["exit_accuracy"][-1])
        curve = np.column_stack([np.append(arrays[x_name], 1.0), np.append(arrays["sweep_accuracy"], full)])
        points.setdefault((job.dataset, job.subset), {}).setdefault(job.method, []).append(curve)
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for where, by_method in points.items():
        out[where] = {}
        for method, curves in by_method.items():
            if len({c.shape for c in curves}) == 1:
                mean = np.mean(np.stack(curves), axis=0)
                out[where][method] = mean[np.argsort(mean[:, 0], kind="stable")]
    return out


def speedup_curves(rows: Any, out_dir: Path, diagnostics: Any) -> list[Path]:
    """Write ``<dataset>-<subset>-accuracy-vs-speedup.png`` and ``...-accuracy-vs-flops-speedup.png``.

    Args:
        rows: The store's rows of one budget (needs ``job_key``, ``status``, ``dataset``, ``subset``, ``method``,
            ``method_kind``, ``budget``).
        out_dir: Where the PNGs go.
        diagnostics: job key -> the arrays of :func:`sweep_diagnostics`.

    Returns:
        The paths written; empty when no job stored a sweep.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = rows.groupby("method")["method_kind"].first().to_dict() if len(rows) else {}
    budget_name = str(rows["budget"].iloc[0]) if len(rows) else ""
    out_dir = Path(out_dir)
    written = []
    colors = plt.get_cmap("tab20")
    for x_name, suffix, xlabel in FIGURES:
        for (dataset, subset), by_method in sorted(_curves(rows, diagnostics, x_name).items()):
            out_dir.mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(7.2, 4.6), dpi=110)
            for i, method in enumerate(sorted(by_method)):
                curve = by_method[method]
                main = kinds.get(method) == "method"
                ax.plot(curve[:, 0], curve[:, 1], color=colors(i % 20), lw=2.2 if main else 1.2,
                        ls="-" if main else "--", marker="o", ms=2.5, label=method)
            ax.axvline(1.0, color="grey", lw=0.6)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("accuracy")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, ncol=2)
            ax.set_title(f"{dataset} / {subset}: accuracy against speed-up (budget {budget_name}, mean over seeds)",
                         fontsize=8)
            fig.tight_layout()
            path = out_dir / f"{dataset}-{subset}-{suffix}.png"
            fig.savefig(path)
            plt.close(fig)
            written.append(path)
    return written
