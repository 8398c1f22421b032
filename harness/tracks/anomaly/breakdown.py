"""Per-defect breakdowns of the anomaly track: what a single image AUROC per category hides.

Each job stores, beside its metrics, one record per defective test image (:func:`per_image`, the
track's ``diagnostics``): its defect type (the test folder), its severity (recorded by the synthetic
generator; NaN on real data), its defect area (share of mask pixels), the share of the good test
images it outscores, and whether it is detected at the threshold that flags at most
:data:`FPR` of the good test images. The type and severity travel with the truth only; no method
sees them.

:func:`breakdown_tables` turns the records of a whole table into:

- ``per_defect.{csv,md}``: image AUROC of good against each defect type, per category and averaged
  over categories per type (a defect image's share of outscored good images, averaged over the
  images of a type, is exactly the AUROC of good against that type, ties counted half);
- ``detection.{csv,md}``: detection rate at :data:`FPR` and AUROC against defect severity and area
  bins, pooled over categories and seeds;
- ``<dataset>-per_defect.png`` (a heat map of methods x defect types) and ``<dataset>-detection.png``
  (detection rate against severity and area, one line per method).

:func:`unified_tables` writes ``unified.{csv,md}``: the per-category metrics of unified-protocol jobs (one
model for every category), which their rows only hold as means over categories.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "AREA_BINS",
    "FPR",
    "SEVERITY_BINS",
    "breakdown_frame",
    "breakdown_tables",
    "detection_table",
    "per_defect_table",
    "per_image",
    "unified_tables",
]

#: Largest share of good test images the detection threshold may flag.
FPR = 0.1
#: Severity bins (the generator draws severities stratified over [0, 1)).
SEVERITY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
#: Defect-area bins, as shares of the image's pixels (0.1 %, 0.4 %, 1.6 %, 6.4 %).
AREA_BINS = (0.0, 0.001, 0.004, 0.016, 0.064, 1.0)
#: Prefix of the diagnostics :func:`per_image` returns.
PREFIX = "breakdown."
#: Each binned quantity: its bin edges and whether its labels are percentages.
_BINS = {"severity": (SEVERITY_BINS, False), "area": (AREA_BINS, True)}
_FIELDS = ("defect", "severity", "area", "outrank", "detected")


def per_image(
    scores: np.ndarray,
    labels: np.ndarray,
    defects: Sequence[str],
    severity: np.ndarray,
    masks: np.ndarray,
    *,
    fpr: float = FPR,
) -> dict[str, np.ndarray]:
    """One record per defective test image: type, severity, area, outscored good share, detected.

    Args:
        scores: float array (n_images,), the method's image scores.
        labels: int array (n_images,), 1 = defective.
        defects: Defect type of each image (``"good"`` for good ones).
        severity: float array (n_images,), NaN where unknown.
        masks: bool array (n_images, H, W).
        fpr: Largest share of good test images the detection threshold flags.

    Returns:
        ``breakdown.<field>`` arrays of shape (n_defective,) for the fields defect (str), severity, area,
        outrank (share of good images scored lower, ties half) and detected (1.0 when the score is above
        the threshold, NaN without good images), plus ``breakdown.fpr``: the share of good images the
        threshold actually flags (shape (1,)).
    """
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    bad = np.flatnonzero(labels == 1)
    good = np.sort(scores[labels == 0])
    s = scores[bad]
    if len(good):
        below = np.searchsorted(good, s, side="left")
        not_above = np.searchsorted(good, s, side="right")
        outrank = (below + 0.5 * (not_above - below)) / len(good)
        k = min(int(math.floor(fpr * len(good) + 1e-12)), len(good) - 1)
        threshold = good[::-1][k]
        detected = (s > threshold).astype(np.float64)
        realised = float(np.mean(good > threshold))
    else:
        outrank = np.full(len(bad), np.nan)
        detected = np.full(len(bad), np.nan)
        realised = math.nan
    area = np.asarray(masks)[bad].reshape(len(bad), -1).mean(axis=1) if len(bad) else np.zeros(0)
    return {
        PREFIX + "defect": np.asarray([str(defects[i]) for i in bad], dtype=str),
        PREFIX + "severity": np.asarray(severity, dtype=np.float64)[bad],
        PREFIX + "area": area.astype(np.float64),
        PREFIX + "outrank": outrank,
        PREFIX + "detected": detected,
        PREFIX + "fpr": np.array([realised]),
    }


def breakdown_frame(rows: pd.DataFrame, diagnostics: Mapping[str, Mapping[str, np.ndarray]]) -> pd.DataFrame:
    """Every ok job's per-image records as one long frame.

    Columns: dataset, subset, method, seed, defect, severity, area, outrank, detected.
    """
    columns = ["dataset", "subset", "method", "seed", *_FIELDS]
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    parts = []
    for job in jobs.itertuples():
        stored = diagnostics.get(job.job_key, {})
        if PREFIX + "outrank" not in stored:
            continue
        part = pd.DataFrame({field: np.asarray(stored[PREFIX + field]) for field in _FIELDS})
        part.insert(0, "seed", int(job.seed))
        part.insert(0, "method", job.method)
        # a unified-protocol job pools categories: each record names its own
        category = stored.get(PREFIX + "category")
        part.insert(0, "subset", job.subset if category is None else np.asarray(category).astype(str))
        part.insert(0, "dataset", job.dataset)
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns)
    frame = pd.concat(parts, ignore_index=True)
    frame["defect"] = frame["defect"].astype(str)
    return frame[columns]


def per_defect_table(frame: pd.DataFrame) -> pd.DataFrame:
    """AUROC of good against each defect type: per (dataset, method, subset, defect), mean and std over seeds.

    Rows with ``subset == "mean"`` average each type over the categories that have it (per seed first).
    Columns: dataset, method, subset, defect, auroc, std, n_seeds, n_images.
    """
    cols = ["dataset", "method", "subset", "defect", "auroc", "std", "n_seeds", "n_images"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    per_seed = (frame.groupby(["dataset", "method", "subset", "defect", "seed"])
                .agg(auroc=("outrank", "mean"), n_images=("outrank", "size")).reset_index())
    by_subset = (per_seed.groupby(["dataset", "method", "subset", "defect"])
                 .agg(auroc=("auroc", "mean"), std=("auroc", "std"), n_seeds=("seed", "nunique"),
                      n_images=("n_images", "mean")).reset_index())
    over = (per_seed.groupby(["dataset", "method", "defect", "seed"])
            .agg(auroc=("auroc", "mean"), n_images=("n_images", "sum")).reset_index()
            .groupby(["dataset", "method", "defect"])
            .agg(auroc=("auroc", "mean"), std=("auroc", "std"), n_seeds=("seed", "nunique"),
                 n_images=("n_images", "mean")).reset_index())
    over.insert(2, "subset", "mean")
    return pd.concat([over, by_subset], ignore_index=True)[cols]


def _bin_labels(edges: Sequence[float], *, percent: bool) -> list[str]:
    def text(value: float) -> str:
        return f"{100 * value:g} %" if percent else f"{value:g}"

    return [f"[{text(lo)}, {text(hi)})" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]


def _present_bins(rows: pd.DataFrame, by: str) -> list[str]:
    """The bin labels of ``by`` that occur in ``rows``, in the bins' order."""
    edges, percent = _BINS[by]
    present = set(rows["bin"])
    return [label for label in _bin_labels(edges, percent=percent) if label in present]


def detection_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Detection rate and AUROC per severity bin and per area bin, pooled over categories and seeds.

    Columns: dataset, method, by ("severity" | "area"), bin (label), detected, auroc, n_images. Severity
    rows only for images with a recorded severity.
    """
    cols = ["dataset", "method", "by", "bin", "detected", "auroc", "n_images"]
    if frame.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    for by, (edges, percent) in _BINS.items():
        known = frame[np.isfinite(frame[by].to_numpy(dtype=np.float64))]
        if known.empty:
            continue
        labels = _bin_labels(edges, percent=percent)
        index = np.clip(np.searchsorted(np.asarray(edges), known[by].to_numpy(), side="right") - 1, 0, len(labels) - 1)
        part = known.assign(bin=pd.Categorical([labels[i] for i in index], categories=labels, ordered=True), by=by)
        table = (part.groupby(["dataset", "method", "by", "bin"], observed=True)
                 .agg(detected=("detected", "mean"), auroc=("outrank", "mean"), n_images=("outrank", "size"))
                 .reset_index())
        parts.append(table)
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["bin"] = out["bin"].astype(str)
    return out[cols]


def _method_order(frame: pd.DataFrame, dataset: str) -> list[str]:
    part = frame[frame["dataset"] == dataset]
    return list(part.groupby("method")["outrank"].mean().sort_values(ascending=False).index)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _heatmap(wide: pd.DataFrame, path: Path, *, title: str) -> None:
    plt = _pyplot()
    n_rows, n_cols = wide.shape
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * n_cols + 3.0), max(2.5, 0.38 * n_rows + 1.5)), dpi=110)
    values = wide.to_numpy(dtype=np.float64)
    image = ax.imshow(values, cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black")
    ax.set_xticks(range(n_cols), list(wide.columns), rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(n_rows), list(wide.index), fontsize=8)
    fig.colorbar(image, ax=ax, label="image AUROC, good vs. type")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _detection_plot(table: pd.DataFrame, order: Sequence[str], path: Path, *, title: str) -> None:
    plt = _pyplot()
    panels = [by for by in ("severity", "area") if (table["by"] == by).any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), dpi=110, squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, by in zip(axes[0], panels, strict=True):
        part = table[table["by"] == by]
        labels = _present_bins(part, by)
        for k, method in enumerate(order):
            rows = part[part["method"] == method].set_index("bin").reindex(labels)
            ax.plot(range(len(labels)), rows["detected"].to_numpy(dtype=np.float64), marker="o", ms=3,
                    lw=1.2, color=cmap(k % 10), ls="-" if k < 10 else "--", label=method)
        ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right", fontsize=8)
        ax.set_xlabel("defect severity" if by == "severity" else "defect area (share of the image)")
        ax.set_ylabel("detection rate")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _wide(table: pd.DataFrame, dataset: str, subset: str, order: Sequence[str]) -> pd.DataFrame:
    part = table[(table["dataset"] == dataset) & (table["subset"] == subset)]
    wide = part.pivot(index="method", columns="defect", values="auroc")
    return wide.reindex([m for m in order if m in wide.index])


def _cells(wide: pd.DataFrame, std: pd.DataFrame) -> pd.DataFrame:
    out = wide.copy().astype(object)
    for method in wide.index:
        for defect in wide.columns:
            m, s = wide.at[method, defect], std.at[method, defect]
            out.at[method, defect] = "" if not np.isfinite(m) else (f"{m:.3f} ± {s:.3f}" if np.isfinite(s)
                                                                   else f"{m:.3f}")
    return out


def breakdown_tables(
    rows: pd.DataFrame, out_dir: Path, diagnostics: Mapping[str, Mapping[str, np.ndarray]]
) -> list[Path]:
    """Write the per-defect and detection tables (CSV + Markdown) and their figures into ``out_dir``.

    Returns:
        The files written (none when no job stored per-image records).
    """
    frame = breakdown_frame(rows, diagnostics)
    if frame.empty:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    per_defect = per_defect_table(frame)
    detection = detection_table(frame)
    written = []
    csv = out_dir / "per_defect.csv"
    per_defect.to_csv(csv, index=False, float_format="%.6g")
    csv2 = out_dir / "detection.csv"
    detection.to_csv(csv2, index=False, float_format="%.6g")
    written += [csv, csv2]
    md_defect = ["# Image AUROC of good against each defect type", "",
                 "Per job, the AUROC of the good test images against the images of one defect type (ties count "
                 "half); cells: mean ± std over seeds. `mean` rows average a type over the categories that have it.",
                 ""]
    md_detect = ["# Detection against defect severity and area", "",
                 f"Detection rate: share of defective images scored above the threshold that flags at most "
                 f"{FPR:.0%} of a job's good test images; AUROC: good against the images of the bin. Pooled over "
                 "categories and seeds; `n` images per method and bin. Severity is recorded by the synthetic "
                 "generator only; area is the defect's share of the mask's pixels.", ""]
    for dataset in sorted(frame["dataset"].unique()):
        order = _method_order(frame, dataset)
        subsets = ["mean", *sorted(frame.loc[frame["dataset"] == dataset, "subset"].unique())]
        for subset in subsets:
            wide = _wide(per_defect, dataset, subset, order)
            std = (per_defect[(per_defect["dataset"] == dataset) & (per_defect["subset"] == subset)]
                   .pivot(index="method", columns="defect", values="std").reindex(wide.index))
            what = "mean over categories" if subset == "mean" else subset
            md_defect += [f"## {dataset}: {what}", "", _cells(wide, std).reset_index().to_markdown(index=False), ""]
            if subset == "mean":
                png = out_dir / f"{dataset}-per_defect.png"
                _heatmap(wide, png, title=f"{dataset}: image AUROC of good vs. each defect type (mean over "
                                          "categories and seeds)")
                written.append(png)
        part = detection[detection["dataset"] == dataset]
        for by in ("severity", "area"):
            rows_by = part[part["by"] == by]
            if rows_by.empty:
                continue
            labels = _present_bins(rows_by, by)
            wide = rows_by.pivot(index="method", columns="bin", values="detected").reindex(order)[labels]
            counts = rows_by.groupby("bin")["n_images"].max().reindex(labels)
            wide.columns = [f"{b} (n {int(counts[b])})" for b in labels]
            md_detect += [f"## {dataset}: detection rate by {by}", "",
                          wide.round(3).reset_index().to_markdown(index=False), ""]
        png = out_dir / f"{dataset}-detection.png"
        _detection_plot(part, order, png, title=f"{dataset}: detection rate at ≤ {FPR:.0%} of good images flagged")
        written.append(png)
    md1 = out_dir / "per_defect.md"
    md1.write_text("\n".join(md_defect))
    md2 = out_dir / "detection.md"
    md2.write_text("\n".join(md_detect))
    return [*written, md1, md2]


#: Metrics of the per-category table of unified-protocol jobs.
UNIFIED_METRICS = ("image_auroc", "pixel_auroc", "aupro")


def unified_tables(
    rows: pd.DataFrame, out_dir: Path, diagnostics: Mapping[str, Mapping[str, np.ndarray]]
) -> list[Path]:
    """Per-category metrics of unified-protocol jobs (diagnostics ``category.<name>.<metric>``).

    Mean ± std over seeds, as ``unified.csv`` (long) and ``unified.md`` (methods x categories per metric).

    Returns:
        The files written; none when no job pooled categories.
    """
    jobs = rows[rows["status"] == "ok"].drop_duplicates("job_key")
    records = []
    for job in jobs.itertuples():
        for key, value in diagnostics.get(job.job_key, {}).items():
            if key.startswith("category."):
                category, _, metric = key[len("category."):].rpartition(".")
                records.append({"dataset": job.dataset, "method": job.method, "seed": int(job.seed),
                                "category": category, "metric": metric, "value": float(np.asarray(value).ravel()[0])})
    if not records:
        return []
    frame = pd.DataFrame.from_records(records)
    table = (frame.groupby(["dataset", "method", "metric", "category"])["value"]
             .agg(mean="mean", std="std", n_seeds="size").reset_index())
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "unified.csv"
    table.to_csv(csv, index=False, float_format="%.6g")
    lines = ["# Unified protocol: one model for every category, metrics per category", "",
             "Each job trains one model on the good images of every category and is scored per category; the "
             "leaderboard's rows hold the mean over categories. Cells: mean ± std over seeds.", ""]
    for dataset in sorted(table["dataset"].unique()):
        for metric in UNIFIED_METRICS:
            part = table[(table["dataset"] == dataset) & (table["metric"] == metric)]
            if part.empty:
                continue
            cell = [f"{m:.3f} ± {s:.3f}" if np.isfinite(s) else f"{m:.3f}" for m, s in zip(part["mean"], part["std"],
                                                                                       strict=True)]
            wide = part.assign(cell=cell).pivot(index="method", columns="category", values="cell")
            mean = part.groupby("method")["mean"].mean().sort_values(ascending=False)
            wide = wide.reindex(mean.index)
            wide.insert(0, "mean", [f"{v:.3f}" for v in mean])
            lines += [f"## {dataset}: {metric}", "", wide.reset_index().to_markdown(index=False), ""]
    md = out_dir / "unified.md"
    md.write_text("\n".join(lines))
    return [csv, md]
