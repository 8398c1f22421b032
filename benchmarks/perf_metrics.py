"""Speed and memory of the metric engine, with the references run side by side on the same arrays.

Prints one table of medians over a few repeats and the speed-up over each reference:

* anomaly maps (200 x 256 x 256 float32, ~5% anomalous pixels in blob-shaped regions):
  ``aupro`` against anomalib 2.7's exact ``AUPRO`` and ``pixel_auroc`` against
  scikit-learn's ``roc_auc_score``; the extra memory of ``aupro`` (tracemalloc peak of
  its allocations) relative to the maps;
* with ``--full``: the MVTec AD test size, 1725 maps of 256 x 256 (ours only);
* re-ID mAP/CMC on a Market-1501-sized problem (3368 queries x 15913 gallery) against a
  per-query loop in the style of torchreid's ``eval_market1501``;
* full-ranking NDCG@10 on a MovieLens-1M-sized matrix (6040 x 3706, training items
  masked) against a per-user loop that sorts each row.

Usage: python benchmarks/perf_metrics.py [--quick] [--full] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from tabulate import tabulate

from harness.metrics import anomaly, ranking, retrieval

N_CORES = len(os.sched_getaffinity(0))


@dataclass
class Timing:
    """Medians of the wall and CPU (all threads) seconds of repeated calls, and the last value."""

    wall_s: float
    cpu_s: float
    value: Any


def _time(functions: list[Callable[[], Any]], repeats: list[int]) -> list[Timing]:
    """Time several functions on the same inputs, interleaving their repeats after one warm-up call each.

    Interleaving exposes every function to the same background load of a shared machine.
    """
    values = [function() for function in functions]
    walls: list[list[float]] = [[] for _ in functions]
    cpus: list[list[float]] = [[] for _ in functions]
    for round_ in range(max(repeats)):
        for i, function in enumerate(functions):
            if round_ < repeats[i]:
                wall, cpu = time.perf_counter(), time.process_time()
                values[i] = function()
                walls[i].append(time.perf_counter() - wall)
                cpus[i].append(time.process_time() - cpu)
    return [
        Timing(statistics.median(wall), statistics.median(cpu), value)
        for wall, cpu, value in zip(walls, cpus, values, strict=True)
    ]


def _peak_extra_bytes(function: Callable[[], Any]) -> int:
    """Peak bytes allocated (numpy arrays included) while ``function`` runs, beyond what existed before."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def anomaly_maps(n_images: int, side: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 maps and bool masks; 3 images in 4 carry blob regions covering ~6.7% of them (~5% overall)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_images, side, side), dtype=bool)
    maps = np.empty((n_images, side, side), dtype=np.float32)
    for i in range(n_images):
        if i % 4:
            field = ndimage.gaussian_filter(rng.standard_normal((side, side)), side / 32)
            masks[i] = field > np.quantile(field, 1 - 0.0667)
        noise = ndimage.gaussian_filter(rng.standard_normal((side, side)), side / 64) * 3
        maps[i] = noise + 0.25 * masks[i] + 0.02 * rng.standard_normal((side, side))
    return maps, masks


def anomalib_aupro(maps: np.ndarray, masks: np.ndarray) -> float:
    """anomalib 2.7's exact AUPRO (its torchmetrics state, no binning) on the same arrays."""
    from anomalib.metrics.aupro import _AUPRO

    metric = _AUPRO(fpr_limit=0.3)
    metric.update(torch.from_numpy(maps), torch.from_numpy(masks.astype(np.float32)))
    return float(metric.compute())


def sklearn_pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """scikit-learn's roc_auc_score on the flattened arrays."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_true=masks.ravel(), y_score=maps.ravel()))


def market_like(n_queries: int, n_gallery: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Euclidean distances of 128-d embeddings of 750 identities over 6 cameras, ~17% distractors (id 0)."""
    rng = np.random.default_rng(seed)
    n_ids, dim = 750, 128
    centers = rng.standard_normal((n_ids, dim)).astype(np.float32)
    camera_shift = 0.4 * rng.standard_normal((6, dim)).astype(np.float32)
    q_ids, q_cams = rng.integers(1, n_ids + 1, n_queries), rng.integers(0, 6, n_queries)
    n_distractors = int(0.176 * n_gallery)
    g_ids = np.concatenate([rng.integers(1, n_ids + 1, n_gallery - n_distractors), np.zeros(n_distractors, int)])
    g_cams = rng.integers(0, 6, n_gallery)

    def embed(ids: np.ndarray, cams: np.ndarray) -> np.ndarray:
        identity = np.where(ids[:, None] > 0, centers[np.maximum(ids, 1) - 1], 0.0)
        return (identity + camera_shift[cams] + 1.1 * rng.standard_normal((ids.size, dim))).astype(np.float32)

    q, g = embed(q_ids, q_cams), embed(g_ids, g_cams)
    distmat = np.sqrt(np.maximum((q**2).sum(1)[:, None] + (g**2).sum(1)[None] - 2 * q @ g.T, 0))
    return distmat, q_ids, g_ids, q_cams, g_cams


def torchreid_style_eval(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=10) -> dict[str, float]:
    """The per-query Python loop of torchreid's ``eval_market1501`` (argsort of every row first)."""
    num_q, num_g = distmat.shape
    indices = np.argsort(distmat, axis=1)
    matches = (g_pids[indices] == q_pids[:, np.newaxis]).astype(np.int32)
    all_cmc, all_ap = [], []
    for q_idx in range(num_q):
        order = indices[q_idx]
        remove = (g_pids[order] == q_pids[q_idx]) & (g_camids[order] == q_camids[q_idx])
        raw_cmc = matches[q_idx][np.invert(remove)]
        if not np.any(raw_cmc):
            continue
        cmc = raw_cmc.cumsum()
        cmc[cmc > 1] = 1
        all_cmc.append(cmc[:max_rank])
        tmp_cmc = raw_cmc.cumsum()
        tmp_cmc = np.asarray([x / (i + 1.0) for i, x in enumerate(tmp_cmc)]) * raw_cmc
        all_ap.append(tmp_cmc.sum() / raw_cmc.sum())
    cmc = np.asarray(all_cmc).astype(np.float32).mean(0)
    return {"mAP": float(np.mean(all_ap)), "rank1": float(cmc[0]), "rank5": float(cmc[4]), "rank10": float(cmc[9])}


def movielens_like(n_users: int, n_items: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random float32 scores, ~4.5% training items excluded, one held-out item per user."""
    rng = np.random.default_rng(seed)
    scores = rng.random((n_users, n_items), dtype=np.float32)
    relevance = np.zeros((n_users, n_items), dtype=bool)
    relevance[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    exclude = (rng.random((n_users, n_items)) < 0.045) & ~relevance
    return scores, relevance, exclude


def per_user_ndcg_loop(scores: np.ndarray, relevance: np.ndarray, exclude: np.ndarray, k: int = 10) -> float:
    """NDCG@k user by user: drop the excluded items, sort the row, sum the discounts."""
    values = []
    for user in range(scores.shape[0]):
        keep = ~exclude[user]
        row, rel = scores[user][keep], relevance[user][keep]
        ranked = rel[np.argsort(-row, kind="stable")][:k]
        dcg = np.sum(ranked / np.log2(np.arange(2, ranked.size + 2)))
        ideal = np.sum(1.0 / np.log2(np.arange(2, min(k, int(rel.sum())) + 2)))
        values.append(dcg / ideal)
    return float(np.mean(values))


def _row(name: str, size: str, ours: Timing, ref: Timing | None, target: str, diff: str, note: str = "") -> list[str]:
    if ref is None:
        return [name, size, f"{ours.wall_s:.3f}", "-", "-", "-", target, diff, note]
    return [
        name,
        size,
        f"{ours.wall_s:.3f}",
        f"{ref.wall_s:.3f}",
        f"{ref.wall_s / ours.wall_s:.1f}x",
        f"{ref.cpu_s / ours.cpu_s:.1f}x",
        target,
        diff,
        note,
    ]


def bench_anomaly(n_images: int, side: int, repeats: int, *, with_references: bool) -> list[list[str]]:
    maps, masks = anomaly_maps(n_images, side)
    size = f"{n_images}x{side}x{side} ({maps.size / 1e6:.1f} M px, {masks.mean():.1%} anom.)"
    extra = _peak_extra_bytes(lambda: anomaly.aupro(maps, masks)) / maps.nbytes
    memory = f"extra memory {extra:.2f}x the maps (target <= 3x)"
    aupro = partial(anomaly.aupro, maps, masks)
    pixel_auroc = partial(anomaly.pixel_auroc, maps, masks)
    if not with_references:
        ours, ours_pixel = _time([aupro, pixel_auroc], [repeats, repeats])
        return [
            _row("aupro (MVTec AD test size)", size, ours, None, "runs", f"value {ours.value:.4f}", memory),
            _row("pixel_auroc (MVTec AD test size)", size, ours_pixel, None, "runs", f"value {ours_pixel.value:.4f}"),
        ]
    n_ref = max(1, (repeats + 1) // 2)
    ours, ref = _time([aupro, partial(anomalib_aupro, maps, masks)], [repeats, n_ref])
    rows = [
        _row("aupro vs anomalib 2.7 AUPRO", size, ours, ref, ">= 15x", f"{abs(ours.value - ref.value):.1e}", memory)
    ]
    ours, ref = _time([pixel_auroc, partial(sklearn_pixel_auroc, maps, masks)], [repeats, n_ref])
    rows.append(
        _row("pixel_auroc vs sklearn roc_auc_score", size, ours, ref, ">= 5x", f"{abs(ours.value - ref.value):.1e}")
    )
    return rows


def bench_reid(n_queries: int, n_gallery: int, repeats: int) -> list[list[str]]:
    arrays = market_like(n_queries, n_gallery)
    ours, ref = _time([partial(retrieval.reid_map_cmc, *arrays), partial(torchreid_style_eval, *arrays)], [repeats, 1])
    diff = max(abs(ours.value[key] - ref.value[key]) for key in ref.value)
    note = f"mAP {ours.value['mAP']:.3f}, rank1 {ours.value['rank1']:.3f}"
    size = f"{n_queries}x{n_gallery}"
    return [_row("reid_map_cmc vs torchreid-style loop", size, ours, ref, ">= 5x", f"{diff:.1e}", note)]


def bench_ranking(n_users: int, n_items: int, repeats: int) -> list[list[str]]:
    scores, relevance, exclude = movielens_like(n_users, n_items)
    ours_fn = partial(ranking.ndcg_at_k, scores, relevance, k=10, exclude=exclude)
    ours, ref = _time([ours_fn, partial(per_user_ndcg_loop, scores, relevance, exclude)], [repeats, 1])
    size = f"{n_users}x{n_items}"
    diff = f"{abs(ours.value - ref.value):.1e}"
    return [_row("ndcg_at_k@10, full ranking vs per-user loop", size, ours, ref, "< 0.5 s", diff)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test of the script")
    parser.add_argument("--full", action="store_true", help="also run the MVTec AD test size (1725 maps)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per measurement (median)")
    args = parser.parse_args()
    torch.set_num_threads(N_CORES)
    rows = []
    if args.quick:
        rows += bench_anomaly(20, 128, args.repeats, with_references=True)
        rows += bench_reid(300, 2000, args.repeats)
        rows += bench_ranking(600, 1000, args.repeats)
    else:
        rows += bench_anomaly(200, 256, args.repeats, with_references=True)
        if args.full:
            rows += bench_anomaly(1725, 256, args.repeats, with_references=False)
        rows += bench_reid(3368, 15913, args.repeats)
        rows += bench_ranking(6040, 3706, args.repeats)
    headers = [
        "benchmark",
        "size",
        "ours [s]",
        "reference [s]",
        "speed-up",
        "CPU-time ratio",
        "target",
        "|diff|",
        "note",
    ]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"Wall-time medians of {args.repeats} interleaved repeats (references: fewer), after a warm-up call; "
        f"{N_CORES} CPU cores, torch threads {N_CORES}, load average at the end {load} (other processes slow "
        "every row; the CPU-time ratio, reference over ours summed over threads, is less sensitive to them)."
    )
    print(tabulate(rows, headers=headers, tablefmt="github"))


if __name__ == "__main__":
    main()
