"""Figures of the reid track: rank lists of one job, CMC curves of a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["cmc_curves", "rank_lists"]

#: Colours of the frames: a true match, a match from the query's own camera (not scored), a false match.
_TRUE, _SAME_CAMERA, _FALSE = (0.1, 0.7, 0.2), (0.6, 0.6, 0.6), (0.85, 0.15, 0.1)


def rank_lists(distmat: np.ndarray, truth: Any, path: Path, *, title: str, n_queries: int = 8,
               top_k: int = 10) -> None:
    """Write a PNG: ``n_queries`` queries (the first by file name), each with its ``top_k`` gallery images.

    Each gallery image is framed green for a true match, grey for an image of the query's identity from its
    own camera (left out of the scores) and red otherwise; its rank and distance sit under it. The queries are
    the same for every method (the first file names), so the panels of two methods can be compared row by row.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    height, width = truth.size
    chosen = sorted(range(len(truth.query_paths)), key=lambda i: truth.query_paths[i])[:n_queries]
    top_k = min(top_k, distmat.shape[1])

    def load(file: str) -> np.ndarray:
        with Image.open(file) as image:
            return np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))

    fig, axes = plt.subplots(len(chosen), top_k + 1, figsize=(0.75 * (top_k + 1), 1.45 * len(chosen)), dpi=110,
                             squeeze=False)
    for row, q in enumerate(chosen):
        order = np.argsort(distmat[q], kind="stable")[:top_k]
        axes[row, 0].imshow(load(truth.query_paths[q]))
        axes[row, 0].set_title(f"query {truth.query_pids[q]}", fontsize=6)
        for col, g in enumerate(order, start=1):
            ax = axes[row, col]
            ax.imshow(load(truth.gallery_paths[g]))
            same = truth.gallery_pids[g] == truth.query_pids[q]
            own_camera = truth.gallery_camids[g] == truth.query_camids[q]
            color = (_SAME_CAMERA if own_camera else _TRUE) if same else _FALSE
            for spine in ax.spines.values():
                spine.set_edgecolor(color)
                spine.set_linewidth(3)
            ax.set_title(f"{col}: {distmat[q, g]:.2f}", fontsize=5)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"{title}: top {top_k} of the gallery (green: true match, grey: same camera, not scored; "
                 "red: false)", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def cmc_curves(rows: Any, out_dir: Path, diagnostics: dict[str, dict[str, np.ndarray]]) -> list[Path]:
    """CMC (ranks 1..50) of every method, mean over seeds, one PNG per dataset and subset.

    Returns:
        The paths written; empty when no job stored a curve.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.leaderboard import diagnostic_frame

    table = diagnostic_frame(rows, diagnostics, "cmc")
    if table.empty:
        return []
    kinds = rows.groupby("method")["method_kind"].first().to_dict()
    budget_name = str(rows["budget"].iloc[0])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    colors = plt.get_cmap("tab10")
    styles = {"method": ("-", 2.2), "baseline": ("--", 1.2), "reference": (":", 1.6)}
    for (dataset, subset), _ in table.groupby(level=["dataset", "subset"]):
        data = table.loc[(dataset, subset)]
        fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
        for i, method in enumerate(sorted(data.index.get_level_values("method").unique())):
            mean = data.loc[method].mean(axis=0).to_numpy()
            style, width = styles.get(kinds.get(method, "method"), ("-", 1.2))
            label = f"{method} (reference)" if kinds.get(method) == "reference" else method
            ax.plot(np.arange(1, len(mean) + 1), mean, color=colors(i % 10), lw=width, ls=style, label=label)
        ax.set_xscale("log")
        ax.set_xlabel("rank k")
        ax.set_ylabel("CMC: share of queries matched within the top k")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        ax.set_title(f"{dataset} / {subset}: CMC (budget {budget_name}, mean over seeds)", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{dataset}-{subset}-cmc.png"
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
