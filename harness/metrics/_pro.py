"""Per-region overlap (PRO) curve and the area under it up to a false positive rate (AUPRO).

The definition is the one of the official MVTec AD evaluation code (``pro_curve_util.py``
and ``generic_util.trapezoid``): the ground-truth regions are the 8-connected components
of each mask; every distinct score is a threshold; at a threshold ``t`` the false positive
rate is the share of all normal pixels of all images scoring ``>= t`` and the PRO is the
mean over all regions of all images of the share of the region's pixels scoring ``>= t``.
The curve starts at (0, 0), joins the points of consecutive thresholds by straight lines
and ends at (1, 1); AUPRO is its trapezoid area up to ``fpr_limit``, with the last
segment cut by linear interpolation at ``fpr_limit``, divided by ``fpr_limit``.

Reference:
    Bergmann, Batzner, Fauser, Sattlegger, Steger, "The MVTec Anomaly Detection Dataset:
    A Comprehensive Real-World Dataset for Unsupervised Anomaly Detection", IJCV 2021.
"""

from __future__ import annotations

import functools
import math
import numbers
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy import ndimage

from harness.metrics._binary import count_below, count_below_and_equal, kth_largest, n_workers, select_sorted
from harness.metrics._validation import (
    RESIZE_HINT,
    MetricInputError,
    as_array,
    check_both_classes,
    check_finite,
    check_ndim,
    check_same_shape,
    to_binary,
)

__all__ = ["aupro", "pro_curve"]

STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
STRUCTURE[1] = True
"""8-connectivity inside each image (3x3 ones), no connection between images of a stack."""

IMAGES_PER_CHUNK = 16
"""Images labelled per call; bounds the int32 label array of each thread to 16 * H * W values."""

SAMPLE_SIZE = 1 << 18
"""Normal pixels sampled to bracket the score at which the false positive rate passes the limit."""


def _pro_validate(maps: Any, masks: Any, fpr_limit: float, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Check maps, masks and fpr_limit; return C-contiguous maps and bool masks."""
    if isinstance(fpr_limit, bool) or not (isinstance(fpr_limit, numbers.Real) and 0.0 < fpr_limit <= 1.0):
        msg = f"Argument `fpr_limit` of {caller} must be a number in (0, 1]; got {fpr_limit!r}. MVTec AD uses 0.3."
        raise MetricInputError(msg)
    maps = as_array(maps, "maps", caller)
    masks = as_array(masks, "masks", caller)
    check_ndim(maps, "maps", caller, 3, "(n_images, H, W)")
    check_ndim(masks, "masks", caller, 3, "(n_images, H, W)")
    check_same_shape(maps, masks, ("maps", "masks"), caller, hint=RESIZE_HINT)
    check_finite(maps, "maps", caller)
    masks = to_binary(masks, "masks", caller)
    check_both_classes(masks, "masks", caller)
    return maps, masks


def _pro_format(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return C-contiguous maps of a sortable float dtype and C-contiguous bool masks."""
    if maps.dtype.kind in "bu" or maps.dtype == np.float16:
        maps = maps.astype(np.float32)
    elif maps.dtype.kind == "i":
        maps = maps.astype(np.float64)
    return np.ascontiguousarray(maps), np.ascontiguousarray(masks, dtype=bool)


@functools.cache
def _opencv() -> Any:
    """Return the ``cv2`` module when OpenCV is installed (it labels about 2x faster), else None."""
    try:
        import cv2  # noqa: PLC0415 - optional, imported on first use
    except ImportError:
        return None
    return cv2


def _label_chunk(masks: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label the regions of some images of a stack; return each anomalous pixel's region id and the region sizes.

    8-connected regions of each image, none across images: ``cv2.connectedComponents`` with
    connectivity 8 when OpenCV is installed, else ``scipy.ndimage.label`` with a 3x3
    structure (the official code's choice); both give the same regions.
    """
    cv2 = _opencv()
    if cv2 is None:
        chunk = masks[images]
        labels, n_regions = ndimage.label(chunk, structure=STRUCTURE)
        region_of_pixel = labels[chunk] - 1
        return region_of_pixel, np.bincount(region_of_pixel, minlength=n_regions)
    ids, offset = [], 0
    for image in images:
        n_labels, labels = cv2.connectedComponents(masks[image].view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
        ids.append(labels[masks[image]] + (offset - 1))
        offset += n_labels - 1
    region_of_pixel = np.concatenate(ids)
    return region_of_pixel, np.bincount(region_of_pixel, minlength=offset)


def _pro_regions(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the scores and region ids of all anomalous pixels and the PRO weight of each region.

    The weight of region r is 1 / (|r| * n_regions), so that the weights of the pixels
    scoring >= t sum to the PRO at t. Only images with an anomalous pixel are labelled, in
    chunks of :data:`IMAGES_PER_CHUNK`, by parallel threads (both labelling functions
    release the GIL).

    Returns:
        The scores (dtype of ``maps``) and the int64 region ids, arrays of shape
        (n_anomalous,) in C order of the pixels, and the float64 weights, shape (n_regions,).
    """
    with_anomaly = np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))
    n_chunks = max(n_workers(), math.ceil(with_anomaly.size / IMAGES_PER_CHUNK))
    chunks = np.array_split(with_anomaly, min(n_chunks, with_anomaly.size))
    with ThreadPoolExecutor(n_workers()) as pool:
        results = list(pool.map(lambda images: _label_chunk(masks, images), chunks))
        scores = maps[masks]
    offsets = np.cumsum([0] + [sizes.size for _, sizes in results])
    sizes = np.concatenate([sizes for _, sizes in results])
    regions = np.concatenate([ids + offset for (ids, _), offset in zip(results, offsets[:-1], strict=True)])
    return scores, regions.astype(np.int64, copy=False), 1.0 / (sizes.astype(np.float64) * sizes.size)


def _sort_by_score(scores: np.ndarray, regions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort scores ascending, carrying each one's region id along.

    For float32 scores, the score's bits (made order-preserving, -0.0 read as +0.0) and the
    region id are packed into one uint64 key and sorted as values, which is faster than an
    argsort plus two gathers; other dtypes use an argsort.

    Returns:
        The sorted scores and their region ids, arrays of shape (n,).
    """
    if scores.dtype != np.float32 or regions.size == 0 or regions.max() >= 1 << 32:
        order = np.argsort(scores)
        return scores[order], regions[order]
    bits = (scores + np.float32(0.0)).view(np.uint32)
    ordered = np.where(bits >> 31, ~bits, bits | np.uint32(1 << 31))
    keys = (ordered.astype(np.uint64) << np.uint64(32)) | regions.astype(np.uint64)
    keys.sort()
    ordered = (keys >> np.uint64(32)).astype(np.uint32)
    bits = np.where(ordered >> 31, ordered & np.uint32((1 << 31) - 1), ~ordered)
    return bits.view(np.float32), (keys & np.uint64((1 << 32) - 1)).astype(np.int64)


def _n_normal_past_limit(fpr_limit: float, n_normal: int) -> int:
    """Return the least count c of normal pixels with c / n_normal > fpr_limit (n_normal + 1 if none).

    The division is the float64 one of the official code, so the cut falls where it does there.
    """
    count = int(math.floor(fpr_limit * n_normal))
    while count <= n_normal and count / n_normal <= fpr_limit:
        count += 1
    while count > 1 and (count - 1) / n_normal > fpr_limit:
        count -= 1
    return count


def _normal_score_bound(maps: np.ndarray, masks: np.ndarray, n_top: int, n_normal: int) -> Any:
    """Return a score that at least ``n_top`` normal pixels reach, with high probability, or None.

    A strided sample of the normal pixels brackets the n_top-th highest normal score from
    below with a wide margin (6 standard deviations plus 1% of the sample). The caller
    checks the count and falls back to all normal pixels, so the result stays exact.
    """
    flat, flat_mask = maps.reshape(-1), masks.reshape(-1)
    stride = max(1, flat.size // SAMPLE_SIZE)
    sample = flat[::stride][~flat_mask[::stride]]
    share = n_top / n_normal
    n_sample = sample.size
    n_take = math.ceil(share * n_sample + 6.0 * math.sqrt(share * (1 - share) * n_sample) + 0.01 * n_sample) + 1
    if n_take >= n_sample:
        return None
    sample.partition(n_sample - n_take)  # the sample is a fresh copy: partition it in place
    return sample[n_sample - n_take]


def _aupro_compute(maps: np.ndarray, masks: np.ndarray, fpr_limit: float) -> float:
    """Return AUPRO of validated, formatted inputs (see :func:`aupro`)."""
    anomalous, regions, region_weights = _pro_regions(maps, masks)
    n_normal = masks.size - anomalous.size
    n_top = _n_normal_past_limit(fpr_limit, n_normal)
    with ThreadPoolExecutor(n_workers()) as pool:
        sorting = pool.submit(_sort_by_score, anomalous, regions)
        bound = _normal_score_bound(maps, masks, n_top, n_normal) if n_top <= n_normal else None
        parts = select_sorted(maps, masks, pool, bound=bound)
        if bound is not None and sum(part.size for part in parts) < n_top:
            parts = select_sorted(maps, masks, pool)
        anomalous, regions = sorting.result()
    weights = region_weights[regions]
    del regions
    n_selected = sum(part.size for part in parts)
    if n_top > n_normal:  # fpr_limit == 1: the whole curve counts
        cut, n_up_to_cut, first_above, first_at = None, 0, 0, 0
    else:
        cut = kth_largest(parts, n_top)  # the point of this score is the first one past the limit
        n_up_to_cut = int(count_below(parts, cut, side="right"))
        first_above = int(np.searchsorted(anomalous, cut, side="right"))
        first_at = int(np.searchsorted(anomalous, cut, side="left"))
    # Area of the curve from (0, 0) to the last point before the cut: each normal pixel with a
    # score v above the cut adds a trapezoid of width 1 / n_normal and mean height
    # PRO(> v) + PRO(= v) / 2; summed over the anomalous pixels instead, that is
    # sum_a w_a * (#normal in (cut, s_a) + #normal equal to s_a / 2) / n_normal.
    scores, above_weights = anomalous[first_above:], weights[first_above:]
    is_start = np.empty(scores.size, dtype=bool)
    is_start[:1] = True
    np.not_equal(scores[1:], scores[:-1], out=is_start[1:])
    starts = np.flatnonzero(is_start)
    group_weights = np.add.reduceat(above_weights, starts) if starts.size else np.zeros(0)
    distinct = scores[starts]
    below, equal = count_below_and_equal(parts, distinct)
    area = float(np.dot(group_weights, 2 * (below - n_up_to_cut) + equal)) / (2.0 * n_normal)
    if cut is None:
        return area / fpr_limit
    # Cut the segment from the last point at or below the limit to the first point past it.
    fpr_before = (n_selected - n_up_to_cut) / n_normal
    fpr_after = (n_selected - int(count_below(parts, cut, side="left"))) / n_normal
    pro_before = float(above_weights.sum())
    pro_after = pro_before + float(weights[first_at:first_above].sum())
    if fpr_before < fpr_limit:
        pro_at_limit = pro_before + (pro_after - pro_before) * (fpr_limit - fpr_before) / (fpr_after - fpr_before)
        area += 0.5 * (pro_at_limit + pro_before) * (fpr_limit - fpr_before)
    return area / fpr_limit


def aupro(maps: Any, masks: Any, *, fpr_limit: float = 0.3, validate: bool = True) -> float:
    """Area under the per-region overlap curve up to a false positive rate, normalised.

    The official MVTec AD algorithm (module docstring), computed without building the
    curve: with ``w_a = 1 / (|region of a| * n_regions)`` for an anomalous pixel ``a``, the
    trapezoid area up to the last point below the limit is
    ``sum_a w_a * (#normal scores in (cut, s_a) + #normal scores equal to s_a / 2) / n_normal``,
    where ``cut`` is the score at which the false positive rate first exceeds ``fpr_limit``;
    the segment that crosses the limit is added by linear interpolation, as in the official
    ``trapezoid(..., x_max=fpr_limit)``. Only the normal pixels above ``cut`` (about
    ``fpr_limit`` of them) and the anomalous pixels are sorted.

    Regions are labelled with OpenCV when it is installed (the ``anomaly`` extra brings it)
    and with ``scipy.ndimage.label`` otherwise; both give the official 8-connected regions.

    Cost: O(P log P) time for P pixels, sorting in parallel threads. Extra memory: the
    normal scores above the cut (about ``fpr_limit`` of the maps), a bool mask, the
    anomalous scores with their float64 weights and sort keys, and int32 labels of 16
    images per thread; the peak is about 1x the maps for float32 maps with 5% anomalous
    pixels (measured by ``benchmarks/perf_metrics.py``). Exact: agrees with the official
    code to float rounding (1e-12), ties included.

    Differences from anomalib 2.7's ``AUPRO``: the same curve and interpolation, but anomalib
    accumulates the false positive and overlap counts with float32 ``torch.cumsum`` (integer
    counts are exact only up to 2**24 pixels, and the sums round), labels regions with
    OpenCV's ``connectedComponents`` (the same 8-connected regions) in a loop over regions,
    and keeps about ten full-size temporaries (int64 labels and sort indices, per-pixel
    changes and their sorted copies). On 200 maps of 256 x 256 the two values differ by
    about 1e-8; see ``benchmarks/perf_metrics.py``.

    Args:
        maps: float array of shape (n_images, H, W), anomaly maps at ground-truth resolution,
            higher means more anomalous. Every distinct value is a threshold; ties are kept
            together. NaN or inf raise.
        masks: bool or 0/1 array of shape (n_images, H, W), True for anomalous pixels. Images
            without anomalous pixels add only normal pixels.
        fpr_limit: Upper limit of the false positive rate, in (0, 1]; 0.3 in MVTec AD.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        AUPRO in [0, 1], as a Python float.

    Raises:
        MetricInputError: On a shape mismatch, a non-finite score, a non-binary mask, no
            anomalous pixel (no region: PRO is undefined) or no normal pixel (FPR undefined),
            or ``fpr_limit`` outside (0, 1].

    Example:
        >>> maps = np.array([[[0.9, 0.8, 0.1], [0.2, 0.3, 0.4]]])
        >>> masks = np.array([[[1, 1, 0], [0, 0, 0]]])
        >>> aupro(maps, masks)
        1.0
    """
    caller = "aupro"
    if validate:
        maps, masks = _pro_validate(maps, masks, fpr_limit, caller)
    else:
        maps, masks = as_array(maps, "maps", caller), as_array(masks, "masks", caller)
    return _aupro_compute(*_pro_format(maps, masks), float(fpr_limit))


def pro_curve(maps: Any, masks: Any, *, validate: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Return the whole PRO curve, one point per distinct score, as the official ``compute_pro``.

    Args:
        maps: float array of shape (n_images, H, W); NaN or inf raise.
        masks: bool or 0/1 array of shape (n_images, H, W), True for anomalous pixels.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        ``(fpr, pro)``, two float64 arrays of shape (n_distinct_scores + 2,): the false positive
        rate and the mean per-region overlap at every distinct score from the highest to the
        lowest, with (0, 0) prepended and (1, 1) appended. ``fpr`` is non-decreasing.
        Cost: O(P log P) time and about 6x the maps in memory (the curve itself has one point
        per distinct score); use :func:`aupro` for the area.

    Raises:
        MetricInputError: As :func:`aupro`.

    Example:
        >>> maps = np.array([[[0.9, 0.1], [0.2, 0.3]]])
        >>> fpr, pro = pro_curve(maps, np.array([[[1, 0], [0, 0]]]))
        >>> fpr.tolist(), pro.tolist()
        ([0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    caller = "pro_curve"
    if validate:
        maps, masks = _pro_validate(maps, masks, 0.3, caller)
    maps, masks = _pro_format(as_array(maps, "maps", caller), as_array(masks, "masks", caller))
    anomalous, regions, region_weights = _pro_regions(maps, masks)
    anomalous, regions = _sort_by_score(anomalous, regions)
    cumulative = np.concatenate([[0.0], np.cumsum(region_weights[regions])])
    with ThreadPoolExecutor(n_workers()) as pool:
        parts = select_sorted(maps, masks, pool)
    n_normal = masks.size - anomalous.size
    thresholds = np.unique(maps)[::-1]
    fpr = (n_normal - count_below(parts, thresholds, side="left")) / n_normal
    pro = cumulative[-1] - cumulative[np.searchsorted(anomalous, thresholds, side="left")]
    fpr = np.concatenate([[0.0], np.clip(fpr, 0.0, 1.0), [1.0]])
    pro = np.concatenate([[0.0], np.clip(pro, 0.0, 1.0), [1.0]])
    return fpr, pro
