"""Figures of the seqrec track's leaderboard: the LM methods' schedules and losses, NDCG@10 per domain.

:func:`lm_curves` draws, per dataset, the learning rate and the validation losses (of pre-training: next token over
the whole vocabulary; of adaptation: next item over the target domain's items) against tokens seen of every method
that returned LM curves (``lm_tokens``, ``lm_lr``, ``lm_val_loss``, ``lm_stage``; the seed-0 job of the first
domain, since continual pre-training is the same for every domain), so that WSA, cosine and the ablations can be
compared at one token budget; the legend gives each method's measured training throughput (tokens per second).
:func:`per_domain` draws NDCG@10 (full ranking) per domain and method, mean over seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["lm_curves", "per_domain"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def lm_curves(rows: Any, out_dir: Path, diagnostics: Any) -> list[Path]:
    """Write ``<dataset>-lm-curves.png`` per dataset with LM curves; return the paths."""
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key").sort_values(["seed", "subset"])
    chosen: dict[str, dict[str, Any]] = {}
    for job in jobs.itertuples():
        curves = diagnostics.get(job.job_key, {})
        if "lm_tokens" in curves and len(curves["lm_tokens"]):
            chosen.setdefault(job.dataset, {}).setdefault(job.method, curves)
    if not chosen:
        return []
    plt = _pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    budget_name = str(rows["budget"].iloc[0])
    for dataset, methods in sorted(chosen.items()):
        fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.3), dpi=110)
        colors = plt.get_cmap("tab10")
        for i, (method, c) in enumerate(sorted(methods.items())):
            tokens = np.asarray(c["lm_tokens"], dtype=np.float64)
            speed = np.asarray(c.get("lm_tokens_per_s", [np.nan]), dtype=np.float64).reshape(-1)
            label = f"{method} ({speed[0]:,.0f} tok/s)" if np.isfinite(speed[0]) else method
            stage = np.asarray(c.get("lm_stage", np.zeros_like(tokens)))
            for s, style in ((0, "-"), (1, ":")):
                mask = stage == s
                if mask.any():
                    axes[0].plot(tokens[mask], np.asarray(c["lm_lr"])[mask], style, color=colors(i % 10),
                                 lw=1.6, label=label if s == 0 or not (stage == 0).any() else None)
            loss = np.asarray(c.get("lm_val_loss", np.full_like(tokens, np.nan)), dtype=np.float64)
            for s, (ax, style) in enumerate(((axes[1], "o-"), (axes[2], "o:"))):
                shown = np.isfinite(loss) & (stage == s)
                if shown.any():
                    ax.plot(tokens[shown], loss[shown], style, ms=3, color=colors(i % 10), lw=1.4, label=method)
        axes[0].set_title("learning rate (solid: continual pre-training, dotted: adaptation)", fontsize=9)
        axes[0].set_ylabel("learning rate")
        axes[1].set_title("pre-training: validation loss (next token, every token)", fontsize=9)
        axes[2].set_title("adaptation: validation loss (next item, target domain)", fontsize=9)
        axes[1].set_ylabel("cross-entropy")
        from matplotlib.ticker import FuncFormatter

        for ax in axes:
            ax.set_xlabel("tokens seen")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.suptitle(f"{dataset}: LM schedules and validation loss (budget {budget_name}, seed-0 job)", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{dataset}-lm-curves.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def per_domain(rows: Any, out_dir: Path, metric: str = "ndcg_at_10") -> list[Path]:
    """Write ``<dataset>-per-domain.png``: ``metric`` per domain (groups) and method (bars), mean over seeds."""
    ok = rows[(rows["status"] == "ok") & (rows["metric"] == metric)]
    if ok.empty:
        return []
    plt = _pyplot()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset, part in ok.groupby("dataset"):
        table = part.groupby(["method", "subset"])["value"].mean().unstack("subset")
        table = table.loc[table.mean(axis=1).sort_values(ascending=False).index]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(table.columns) * len(table) / 4 + 3), 4.2), dpi=110)
        width = 0.8 / len(table)
        x = np.arange(len(table.columns))
        colors = plt.get_cmap("tab20")
        for i, (method, values) in enumerate(table.iterrows()):
            ax.bar(x + i * width - 0.4 + width / 2, values.to_numpy(), width, color=colors(i % 20), label=method)
        ax.set_xticks(x, [str(c) for c in table.columns])
        ax.set_ylabel(f"{metric} (full ranking)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"{dataset}: {metric} per domain (budget {rows['budget'].iloc[0]}, mean over seeds)", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{dataset}-per-domain.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
