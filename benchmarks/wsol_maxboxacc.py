"""MaxBoxAccV2 at the CUB-200-2011 test size: the harness's sweep against a per-image OpenCV contour loop.

5,794 maps of 224 x 224 px (smooth blobs plus noise, a third quantised to create plateaus and ties), 1 to 3
true boxes each, 100 thresholds (``numpy.arange(0, 1, 0.01)``). Both sides run in this process on the same
arrays. The reference thresholds each normalised map at each threshold, takes the outer contours of
``cv2.findContours(RETR_CCOMP)`` (the 8-connected components) and their bounding rectangles; the values must be
identical. For information it also prints the value with ``RETR_TREE``, the official wsolevaluation contour
mode, which also counts the rectangles of hole contours.

Usage: python benchmarks/wsol_maxboxacc.py [--n-maps 5794] [--size 224] [--n-thresholds 100] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np
from scipy import ndimage
from tabulate import tabulate

from harness.metrics import localization


def make_maps(n_maps: int, size: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Deterministic smooth maps with 1-5 blobs and noise; a true box around each of the first 1-3 blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    maps = np.empty((n_maps, size, size), dtype=np.float32)
    boxes = []
    for i in range(n_maps):
        n_blobs = int(rng.integers(1, 6))
        n_true = int(rng.integers(1, min(3, n_blobs) + 1))
        score_map = rng.random((size // 8, size // 8)).astype(np.float32) * 0.3
        score_map = np.kron(score_map, np.ones((8, 8), dtype=np.float32))[:size, :size]
        score_map = ndimage.uniform_filter(score_map, 9)
        gt = []
        for b in range(n_blobs):
            cx, cy = rng.uniform(0.1, 0.9, 2) * size
            sx, sy = rng.uniform(0.03, 0.2, 2) * size
            score_map = score_map + rng.uniform(0.3, 1.0) * np.exp(-((xx - cx) / sx) ** 2 - ((yy - cy) / sy) ** 2)
            if b < n_true:
                gt.append([max(0, cx - 1.5 * sx), max(0, cy - 1.5 * sy), min(size, cx + 1.5 * sx),
                           min(size, cy + 1.5 * sy)])
        if i % 3 == 0:
            score_map = np.round(score_map * 8) / 8
        maps[i] = score_map
        boxes.append(np.array(gt))
    return maps, boxes


def opencv_best_iou(maps: np.ndarray, boxes: list[np.ndarray], thresholds: np.ndarray, mode: int) -> np.ndarray:
    """The straightforward loop: per map, per threshold, contours, rectangles, IoU with every true box."""
    best = np.zeros((len(maps), len(thresholds)))
    for i, score_map in enumerate(maps):
        score_map = score_map.astype(np.float64)
        span = score_map.max() - score_map.min()
        normalized = (score_map - score_map.min()) / span if span > 0 else np.zeros(score_map.shape)
        for t, tau in enumerate(thresholds):
            mask = (normalized > tau).astype(np.uint8)
            contours, hierarchy = cv2.findContours(mask, mode, cv2.CHAIN_APPROX_SIMPLE)
            if hierarchy is None:
                continue
            rects = [cv2.boundingRect(c) for c, link in zip(contours, hierarchy[0], strict=True)
                     if mode != cv2.RETR_CCOMP or link[3] == -1]
            if not rects:
                continue
            candidates = np.array([[x, y, x + w, y + h] for x, y, w, h in rects], dtype=np.float64)
            best[i, t] = localization.box_iou(candidates, boxes[i], validate=False).max()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-maps", type=int, default=5794, help="maps (default: the CUB-200-2011 test size)")
    parser.add_argument("--size", type=int, default=224, help="map side in pixels")
    parser.add_argument("--n-thresholds", type=int, default=100, help="thresholds evenly in [0, 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the maps")
    args = parser.parse_args()
    thresholds = np.arange(args.n_thresholds) / args.n_thresholds
    maps, boxes = make_maps(args.n_maps, args.size, args.seed)

    start = time.perf_counter()
    localization.max_box_acc_v2(maps[:2], boxes[:2], thresholds=thresholds)  # compiles or loads the kernel
    warm_s = time.perf_counter() - start
    start = time.perf_counter()
    ours = localization.max_box_acc_v2(maps, boxes, thresholds=thresholds)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    reference_best = opencv_best_iou(maps, boxes, thresholds, cv2.RETR_CCOMP)
    reference = localization.max_box_acc_from_best(reference_best)
    reference_s = time.perf_counter() - start
    tree = localization.max_box_acc_from_best(opencv_best_iou(maps[:500], boxes[:500], thresholds, cv2.RETR_TREE))
    ours_500 = localization.max_box_acc_v2(maps[:500], boxes[:500], thresholds=thresholds)
    rows = [
        ["harness max_box_acc_v2 (union-find sweep)", f"{ours:.6f}", f"{ours_s:.2f}", "1.0"],
        ["OpenCV loop (RETR_CCOMP outer contours)", f"{reference:.6f}", f"{reference_s:.2f}",
         f"{reference_s / ours_s:.1f}"],
    ]
    print(f"{args.n_maps} maps of {args.size} x {args.size} px, {args.n_thresholds} thresholds, "
          f"{len(os.sched_getaffinity(0))} CPU cores; kernel load/compile {warm_s:.2f} s (not counted)")
    print(tabulate(rows, headers=["engine", "MaxBoxAccV2", "seconds", "reference / harness"]))
    print(f"identical values: {ours == reference}")
    print(f"first 500 maps: harness {ours_500:.6f}; OpenCV RETR_TREE (also hole contours, as wsolevaluation) "
          f"{tree:.6f}")
    if ours != reference:
        raise SystemExit("the two engines disagree")


if __name__ == "__main__":
    main()
