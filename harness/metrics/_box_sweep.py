"""Compiled kernel of :func:`harness.metrics.localization.best_iou_per_threshold` (numba, cached on disk).

Each map is min-max normalised (a constant map becomes zeros), then swept from the highest threshold to the
lowest: the pixels crossing each threshold (bucketed by a counting sort on the number of thresholds below their
value, so ``value > threshold`` is exactly the rule) join a union-find over their 8-neighbours that keeps each
component's bounding box; after each threshold, the best IoU of any component's box with any true box is
recorded. Maps run in parallel.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["sweep"]


@numba.njit(cache=True, nogil=True)
def find(parent, node):
    """Root of ``node`` (path halving)."""
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


@numba.njit(cache=True, nogil=True)
def one_map(raw, thresholds, gt, out):  # noqa: C901 - one compiled loop nest
    """Best IoU at every threshold (ascending) of one map (min-max normalised here), into ``out``."""
    height, width = raw.shape
    n_thresholds = thresholds.size
    low, high = np.float64(raw[0, 0]), np.float64(raw[0, 0])
    for r in range(height):
        for c in range(width):
            value = np.float64(raw[r, c])
            low, high = min(low, value), max(high, value)
    span = high - low
    # Padded grid: index (r + 1) * stride + (c + 1), so the 8 neighbours need no bounds check.
    stride = width + 2
    n_cells = (height + 2) * stride
    level = np.zeros(n_cells, dtype=np.int32)
    counts = np.zeros(n_thresholds + 2, dtype=np.int64)
    for r in range(height):
        for c in range(width):
            v = (np.float64(raw[r, c]) - low) / span if span > 0 else 0.0
            lo, hi = 0, n_thresholds
            while lo < hi:  # thresholds strictly below v: foreground at every threshold index < lo
                mid = (lo + hi) >> 1
                if thresholds[mid] < v:
                    lo = mid + 1
                else:
                    hi = mid
            level[(r + 1) * stride + c + 1] = lo
            counts[lo] += 1
    starts = np.zeros(n_thresholds + 2, dtype=np.int64)
    for k in range(n_thresholds + 1):
        starts[k + 1] = starts[k] + counts[k]
    order = np.empty(starts[n_thresholds + 1], dtype=np.int32)
    fill = starts.copy()
    for r in range(height):
        for c in range(width):
            cell = (r + 1) * stride + c + 1
            order[fill[level[cell]]] = cell
            fill[level[cell]] += 1
    parent = np.empty(n_cells, dtype=np.int32)
    active = np.zeros(n_cells, dtype=np.bool_)
    size = np.empty(n_cells, dtype=np.int32)
    x0 = np.empty(n_cells, dtype=np.int32)
    y0 = np.empty(n_cells, dtype=np.int32)
    x1 = np.empty(n_cells, dtype=np.int32)
    y1 = np.empty(n_cells, dtype=np.int32)
    roots = np.empty(starts[n_thresholds + 1], dtype=np.int32)
    offsets = np.array([-stride - 1, -stride, -stride + 1, -1, 1, stride - 1, stride, stride + 1], dtype=np.int32)
    n_roots = 0
    area_gt = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    for t in range(n_thresholds - 1, -1, -1):
        # cells entering at threshold t are those with level == t + 1
        for k in range(starts[t + 1], starts[t + 2]):
            cell = order[k]
            row, col = cell // stride - 1, cell % stride - 1
            active[cell] = True
            parent[cell] = cell
            size[cell] = 1
            x0[cell], y0[cell], x1[cell], y1[cell] = col, row, col + 1, row + 1
            roots[n_roots] = cell
            n_roots += 1
            a = cell
            for offset in offsets:
                q = cell + offset
                if not active[q]:
                    continue
                b = find(parent, q)
                if a == b:
                    continue
                if size[a] < size[b]:  # union by size keeps the trees shallow
                    a, b = b, a
                parent[b] = a
                size[a] += size[b]
                x0[a], y0[a] = min(x0[a], x0[b]), min(y0[a], y0[b])
                x1[a], y1[a] = max(x1[a], x1[b]), max(y1[a], y1[b])
        best = 0.0
        kept = 0
        for k in range(n_roots):
            r = roots[k]
            if parent[r] != r:
                continue
            roots[kept] = r
            kept += 1
            area = float((x1[r] - x0[r]) * (y1[r] - y0[r]))
            for g in range(gt.shape[0]):
                w = min(float(x1[r]), gt[g, 2]) - max(float(x0[r]), gt[g, 0])
                h = min(float(y1[r]), gt[g, 3]) - max(float(y0[r]), gt[g, 1])
                if w <= 0.0 or h <= 0.0:
                    continue
                inter = w * h
                union = area + area_gt[g] - inter
                if union > 0.0 and inter / union > best:
                    best = inter / union
        n_roots = kept
        out[t] = best


@numba.njit(cache=True, parallel=True, nogil=True)
def sweep(maps, thresholds, gt_flat, gt_start, out):
    """:func:`one_map` of every map; true boxes of map i are ``gt_flat[gt_start[i]:gt_start[i + 1]]``."""
    for i in numba.prange(maps.shape[0]):
        one_map(maps[i], thresholds, gt_flat[gt_start[i] : gt_start[i + 1]], out[i])

