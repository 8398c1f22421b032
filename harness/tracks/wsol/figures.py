"""Figures of the wsol track: a panel of test images per method, and box accuracy against the map threshold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Predictions

__all__ = ["box_acc_curves", "panel"]

#: Test images shown per panel.
N_SHOWN = 8


def _pick(truth: Any) -> list[int]:
    """Rows to show, chosen by file name (the same images in every method's panel): multi-object ones first."""
    by_path = np.argsort(np.asarray(truth.paths, dtype=object), kind="stable")
    multi = [int(i) for i in by_path if len(truth.boxes[i]) >= 2]
    single = [int(i) for i in by_path if len(truth.boxes[i]) < 2]
    n_multi = min(len(multi), N_SHOWN // 2)
    step = max(1, len(single) // max(1, N_SHOWN - n_multi))
    return multi[:: max(1, len(multi) // max(1, n_multi))][:n_multi] + single[::step][: N_SHOWN - n_multi]


def _draw_box(ax: Any, box: np.ndarray, color: str, *, width: float = 1.4, style: str = "-") -> None:
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = box
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, lw=width, ls=style))


def panel(predictions: Predictions, truth: Any, path: Path, *, title: str) -> None:
    """Write a 2-row panel: images with true (green) and predicted (red: top box, orange: others) boxes; maps.

    Args:
        predictions: The method's ``boxes``, ``n_boxes``, ``class_scores`` and ``maps``.
        truth: A :class:`~harness.tracks.wsol.WsolTruth`.
        path: Output PNG.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from harness.tracks.wsol.boxes import resize_maps

    size = truth.image_size
    chosen = _pick(truth)
    maps = resize_maps(predictions["maps"][chosen], size)
    predicted = predictions["class_scores"].argmax(axis=1)
    fig, axes = plt.subplots(2, len(chosen), figsize=(1.9 * len(chosen), 4.3), squeeze=False)
    for col, idx in enumerate(chosen):
        image = np.asarray(Image.open(truth.paths[idx]).convert("RGB").resize((size, size), Image.BILINEAR))
        for row in range(2):
            ax = axes[row, col]
            if row == 0:
                ax.imshow(image)
            else:
                ax.imshow(image, alpha=0.35)
                ax.imshow(maps[col], cmap="jet", alpha=0.65)
            for box in truth.boxes[idx]:
                _draw_box(ax, box, "lime", width=1.2)
            n_boxes = int(predictions["n_boxes"][idx])
            for k in range(n_boxes - 1, -1, -1):
                _draw_box(ax, predictions["boxes"][idx, k], "red" if k == 0 else "orange",
                          width=1.6 if k == 0 else 0.9, style="-" if k == 0 else "--")
            ax.set_xlim(-0.5, size - 0.5)
            ax.set_ylim(size - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
        right = "ok" if predicted[idx] == truth.labels[idx] else "wrong"
        axes[0, col].set_title(f"{Path(truth.paths[idx]).stem[:18]}\nclass {right}", fontsize=7)
    axes[0, 0].set_ylabel("boxes", fontsize=8)
    axes[1, 0].set_ylabel("score map", fontsize=8)
    fig.suptitle(title + "  (green: true boxes; red: top box; orange: further boxes)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def box_acc_curves(rows: Any, out_dir: Path, diagnostics: Any) -> list[Path]:
    """Write ``<dataset>-<subset>-box-acc.png``: BoxAcc at IoU 0.5 against the map threshold, per method.

    The curve's maximum is MaxBoxAcc at IoU 0.5; a flat curve means a method whose boxes do not depend on one
    threshold (a regressor's or a detector's boxes rasterised), a peaked one a CAM that must be cut just right.

    Returns:
        The paths written; empty when no job stored a curve.
    """
    from harness.curves import method_curves

    return method_curves(
        rows, out_dir, diagnostics, name="box_acc_curve", x=lambda n: np.arange(n) / n,
        xlabel="threshold on the min-max normalised score map", ylabel="BoxAcc at IoU 0.5 (any component box)",
        title="box accuracy against the threshold", suffix="box-acc",
    )
