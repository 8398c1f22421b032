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
    from harness.curves import method_curves

    return method_curves(
        rows, out_dir, diagnostics, name="cmc", x=lambda n: np.arange(1, n + 1), xlabel="rank k",
        ylabel="CMC: share of queries matched within the top k", title="CMC", suffix="cmc",
        styles={"method": ("-", 2.2), "baseline": ("--", 1.2), "reference": (":", 1.6)},
        labels={"reference": " (reference)"}, log_x=True,
    )
