"""PNG panels of the anomaly track: test images, ground-truth masks and a method's anomaly maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.api import Predictions

__all__ = ["panel"]

#: Test images shown per panel: anomalous first (by file order), then good ones.
N_SHOWN = 6


def _pick(labels: np.ndarray, paths: list[str]) -> list[int]:
    """Rows to show, chosen by file name: every method's panel shows the same images, whatever its test order."""
    by_path = np.argsort(np.asarray(paths, dtype=object), kind="stable")
    anomalous = by_path[labels[by_path] == 1]
    good = by_path[labels[by_path] == 0]
    n_bad = min(len(anomalous), N_SHOWN - min(2, len(good)))
    step = max(1, len(anomalous) // max(1, n_bad))
    chosen = list(anomalous[::step][:n_bad]) + list(good[: N_SHOWN - n_bad])
    return [int(i) for i in chosen]


def panel(predictions: Predictions, truth: object, path: Path, *, title: str) -> None:
    """Write a 3-row panel (image, mask, anomaly map with the mask outline) for a few test images.

    Args:
        predictions: ``maps`` float (n_images, h, w) and ``scores`` float (n_images,).
        truth: An :class:`~harness.tracks.anomaly.AnomalyTruth` (labels, masks, paths).
        path: Output PNG.
        title: Figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from harness.tracks.anomaly import upsample_maps

    chosen = _pick(truth.labels, truth.paths)
    shape = truth.masks.shape[1:]
    maps = upsample_maps(predictions["maps"][chosen], shape)
    low, high = float(predictions["maps"].min()), float(predictions["maps"].max())
    fig, axes = plt.subplots(3, len(chosen), figsize=(2.0 * len(chosen), 6.3), squeeze=False)
    for col, idx in enumerate(chosen):
        image = np.asarray(Image.open(truth.paths[idx]).convert("RGB").resize(shape[::-1]))
        axes[0, col].imshow(image)
        axes[0, col].set_title(f"{Path(truth.paths[idx]).parent.name}/{Path(truth.paths[idx]).stem}\n"
                               f"score {predictions['scores'][idx]:.3g}", fontsize=7)
        axes[1, col].imshow(truth.masks[idx], cmap="gray", vmin=0, vmax=1)
        axes[2, col].imshow(maps[col], cmap="jet", vmin=low, vmax=high)
        if truth.masks[idx].any():
            axes[2, col].contour(truth.masks[idx], levels=[0.5], colors="white", linewidths=0.6)
        for row in range(3):
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    for row, name in enumerate(("image", "ground truth", "anomaly map")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(title + "  (maps share one colour scale over the test set)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
