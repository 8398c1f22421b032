"""Weakly supervised object localization: box IoU, GT-known Loc (CorLoc), Top-1 Loc, MaxBoxAccV2.

Boxes are float arrays ``(x0, y0, x1, y1)`` in continuous pixel-edge coordinates: a box
covering the pixel columns 3..7 has x0 = 3 and x1 = 8, and its width is x1 - x0 (the
torchvision convention). Each image may have several ground-truth boxes (ImageNet has
one per instance), so ``gt_boxes`` is a sequence of n_images arrays of shape
(n_boxes_i, 4). Higher is better for every metric here.

Reference:
    Choe, Oh, Lee, Chun, Akata, Shim, "Evaluating Weakly Supervised Object Localization
    Methods Right", CVPR 2020 (MaxBoxAccV2, code: clovaai/wsolevaluation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim, check_same_length

__all__ = ["box_iou", "corloc", "max_box_acc_v2", "top1_loc"]

IOU_THRESHOLDS = (0.3, 0.5, 0.7)
"""IoU thresholds averaged by MaxBoxAccV2."""

MAP_THRESHOLDS = np.arange(0.0, 1.0, 0.01)
"""Default thresholds on the min-max normalised map, as in wsolevaluation (cam_curve_interval 0.01)."""

STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
STRUCTURE[1] = True
"""8-connectivity inside each thresholded map, none across thresholds of a stack."""


def _boxes_validate(boxes: Any, name: str, caller: str) -> np.ndarray:
    """Check a float array of shape (n, 4) with x0 <= x1 and y0 <= y1; return it as float64."""
    boxes = as_array(boxes, name, caller).astype(np.float64)
    if boxes.ndim == 1 and boxes.size == 4:
        boxes = boxes[None]
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        msg = f"Argument `{name}` of {caller} must have shape (n_boxes, 4) as (x0, y0, x1, y1); got {boxes.shape}."
        raise MetricInputError(msg)
    check_finite(boxes, name, caller)
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (
            f"Argument `{name}` of {caller} must hold boxes with x0 <= x1 and y0 <= y1; got {boxes[i].tolist()} "
            f"at index {i}. Boxes are (x0, y0, x1, y1), not (x, y, w, h)."
        )
        raise MetricInputError(msg)
    return boxes


def _gt_boxes_validate(gt_boxes: Any, n_images: int, caller: str) -> list[np.ndarray]:
    """Check one array of shape (n_boxes_i >= 1, 4) per image."""
    if not isinstance(gt_boxes, Sequence) and not hasattr(gt_boxes, "__len__"):
        msg = f"Argument `gt_boxes` of {caller} must be a sequence with one (n_boxes_i, 4) array per image."
        raise MetricInputError(msg)
    if len(gt_boxes) != n_images:
        msg = f"Argument `gt_boxes` of {caller} must have one entry per image ({n_images}); got {len(gt_boxes)}."
        raise MetricInputError(msg)
    out = []
    for i, boxes in enumerate(gt_boxes):
        boxes = _boxes_validate(boxes, f"gt_boxes[{i}]", caller)
        if len(boxes) == 0:
            msg = f"Argument `gt_boxes[{i}]` of {caller} has no box; every test image needs at least one."
            raise MetricInputError(msg)
        out.append(boxes)
    return out


def _iou(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU matrix of shape (n_first, n_second) of float64 xyxy boxes; 0 where the union is empty."""
    x0 = np.maximum(first[:, None, 0], second[None, :, 0])
    y0 = np.maximum(first[:, None, 1], second[None, :, 1])
    x1 = np.minimum(first[:, None, 2], second[None, :, 2])
    y1 = np.minimum(first[:, None, 3], second[None, :, 3])
    intersection = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_first = (first[:, 2] - first[:, 0]) * (first[:, 3] - first[:, 1])
    area_second = (second[:, 2] - second[:, 0]) * (second[:, 3] - second[:, 1])
    union = area_first[:, None] + area_second[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def box_iou(boxes: Any, other: Any, *, validate: bool = True) -> np.ndarray:
    """Pairwise intersection over union of two sets of boxes.

    Args:
        boxes: float array of shape (n, 4), (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1.
        other: float array of shape (m, 4), same format.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        float64 array of shape (n, m), IoU in [0, 1] (0 for two empty boxes); equal to
        ``torchvision.ops.box_iou``.

    Raises:
        MetricInputError: On a wrong shape, a non-finite coordinate, or x1 < x0 or y1 < y0.

    Example:
        >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]]).tolist()
        [[0.14285714285714285, 1.0]]
    """
    if validate:
        return _iou(_boxes_validate(boxes, "boxes", "box_iou"), _boxes_validate(other, "other", "box_iou"))
    return _iou(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.asarray(other, dtype=np.float64).reshape(-1, 4))


def _correct_boxes(pred_boxes: np.ndarray, gt_boxes: list[np.ndarray], iou_threshold: float) -> np.ndarray:
    """Return a bool array of shape (n_images,): IoU >= threshold with any ground-truth box of the image."""
    return np.array([_iou(pred_boxes[i : i + 1], gt).max() >= iou_threshold for i, gt in enumerate(gt_boxes)])


def corloc(pred_boxes: Any, gt_boxes: Any, *, iou_threshold: float = 0.5, validate: bool = True) -> float:
    """GT-known localization accuracy (CorLoc): share of images whose box overlaps a true box enough.

    Args:
        pred_boxes: float array of shape (n_images, 4), one predicted box per image.
        gt_boxes: sequence of n_images float arrays of shape (n_boxes_i, 4).
        iou_threshold: Least IoU with any ground-truth box of the image that counts as correct.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        CorLoc in [0, 1], as a Python float.

    Raises:
        MetricInputError: On a wrong shape, a bad box, an image without ground-truth box or
            counts that do not match.

    Example:
        >>> corloc([[0, 0, 2, 2], [0, 0, 1, 1]], [[[0, 0, 2, 2]], [[5, 5, 6, 6]]])
        0.5
    """
    caller = "corloc"
    pred_boxes = _boxes_validate(pred_boxes, "pred_boxes", caller) if validate else np.asarray(pred_boxes, float)
    gt = _gt_boxes_validate(gt_boxes, len(pred_boxes), caller) if validate else [np.asarray(b, float) for b in gt_boxes]
    return float(np.mean(_correct_boxes(pred_boxes, gt, iou_threshold)))


def top1_loc(
    pred_boxes: Any,
    pred_labels: Any,
    gt_boxes: Any,
    gt_labels: Any,
    *,
    iou_threshold: float = 0.5,
    validate: bool = True,
) -> float:
    """Top-1 localization accuracy: the top-1 class is right AND the box has IoU >= 0.5 with a true box.

    Args:
        pred_boxes: float array of shape (n_images, 4), one predicted box per image.
        pred_labels: int array of shape (n_images,), the top-1 predicted class.
        gt_boxes: sequence of n_images float arrays of shape (n_boxes_i, 4).
        gt_labels: int array of shape (n_images,), the true class.
        iou_threshold: Least IoU with any ground-truth box of the image that counts as correct.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Top-1 Loc in [0, 1], as a Python float; never above :func:`corloc` or the top-1 accuracy.

    Raises:
        MetricInputError: As :func:`corloc`, or labels that are not 1-D of length n_images.

    Example:
        >>> top1_loc([[0, 0, 2, 2], [0, 0, 2, 2]], [3, 1], [[[0, 0, 2, 2]], [[0, 0, 2, 2]]], [3, 2])
        0.5
    """
    caller = "top1_loc"
    pred_labels, gt_labels = as_array(pred_labels, "pred_labels", caller), as_array(gt_labels, "gt_labels", caller)
    if validate:
        pred_boxes = _boxes_validate(pred_boxes, "pred_boxes", caller)
        check_ndim(pred_labels, "pred_labels", caller, 1, "(n_images,)")
        check_ndim(gt_labels, "gt_labels", caller, 1, "(n_images,)")
        check_same_length({"pred_boxes": pred_boxes, "pred_labels": pred_labels, "gt_labels": gt_labels}, caller)
        gt = _gt_boxes_validate(gt_boxes, len(pred_boxes), caller)
    else:
        pred_boxes, gt = np.asarray(pred_boxes, float), [np.asarray(b, float) for b in gt_boxes]
    return float(np.mean(_correct_boxes(pred_boxes, gt, iou_threshold) & (pred_labels == gt_labels)))


def _normalize_map(score_map: np.ndarray) -> np.ndarray:
    """Min-max normalise one map to [0, 1] in float64; a constant map becomes all zeros (as wsolevaluation)."""
    low, high = score_map.min(), score_map.max()
    if high == low:
        return np.zeros(score_map.shape)
    return (score_map.astype(np.float64) - low) / (high - low)


def _best_iou_per_threshold(score_map: np.ndarray, gt: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For one map: at every threshold, the best IoU of any component's box with any true box.

    The map is normalised, thresholded at every value at once (``map > threshold``, a stack
    of shape (n_thresholds, H, W)), and the 8-connected components of every slice are
    labelled in one call; each component's bounding box (``ndimage.find_objects``) is a
    candidate. A threshold without any foreground pixel gets IoU 0.

    Returns:
        float64 array of shape (n_thresholds,).
    """
    normalized = _normalize_map(score_map)
    labels, n_components = ndimage.label(normalized[None] > thresholds[:, None, None], structure=STRUCTURE)
    best = np.zeros(thresholds.size)
    if n_components == 0:
        return best
    slices = ndimage.find_objects(labels)
    boxes = np.array([[s[2].start, s[1].start, s[2].stop, s[1].stop] for s in slices], dtype=np.float64)
    threshold_of_box = np.array([s[0].start for s in slices])
    np.maximum.at(best, threshold_of_box, _iou(boxes, gt).max(axis=1))
    return best


def max_box_acc_v2(
    maps: Any,
    gt_boxes: Any,
    *,
    thresholds: Any = None,
    iou_thresholds: tuple[float, ...] = IOU_THRESHOLDS,
    validate: bool = True,
) -> float:
    """MaxBoxAccV2 (Choe et al. 2020): box accuracy at the best map threshold, averaged over IoU levels.

    Each map is min-max normalised to [0, 1] (a constant map becomes all zeros). For every
    threshold ``tau``, the pixels with ``map > tau`` are split into 8-connected components
    and every component's bounding box is a candidate (the "multi-contour" evaluation of
    V2); the image is correct at (tau, delta) when some candidate box has IoU >= delta with
    some ground-truth box. BoxAcc(tau, delta) is the share of correct images, and
    MaxBoxAccV2 = mean over delta of max over tau of BoxAcc(tau, delta).

    Contour extraction: the official code thresholds a uint8 copy of the map and takes the
    bounding rectangles of ``cv2.findContours(..., RETR_TREE)``, which also returns the
    contours of holes inside components. Here components come from ``scipy.ndimage.label``
    (8-connected, the outer contours of OpenCV) on the float map; hole contours, which lie
    inside their component's box, are not candidates, and boxes are pixel-edge boxes (a
    component spanning columns 3..7 gives x0 = 3, x1 = 8) compared with continuous IoU.
    Values therefore match the official numbers to within the effect of the uint8 rounding,
    usually to the first decimal of a percentage.

    Cost: one labelling of a (n_thresholds, H, W) stack per image, O(n_thresholds H W).

    Args:
        maps: float array of shape (n_images, H, W), localization maps at image resolution
            (the resolution of the box coordinates); NaN or inf raise.
        gt_boxes: sequence of n_images float arrays of shape (n_boxes_i, 4) in the pixel-edge
            coordinates of the maps.
        thresholds: float array of shape (n_thresholds,) in [0, 1]; default
            ``numpy.arange(0, 1, 0.01)``.
        iou_thresholds: The IoU levels delta averaged over; (0.3, 0.5, 0.7) in the paper.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        MaxBoxAccV2 in [0, 1], as a Python float (the paper reports it in percent).

    Raises:
        MetricInputError: On a wrong shape, a non-finite map value, a bad box, an image
            without a ground-truth box or counts that do not match.

    Example:
        >>> maps = np.zeros((1, 8, 8)); maps[0, 2:5, 3:6] = 1.0
        >>> max_box_acc_v2(maps, [[[3, 2, 6, 5]]])
        1.0
    """
    caller = "max_box_acc_v2"
    thresholds = MAP_THRESHOLDS if thresholds is None else as_array(thresholds, "thresholds", caller).astype(float)
    maps = as_array(maps, "maps", caller)
    if validate:
        check_ndim(maps, "maps", caller, 3, "(n_images, H, W)")
        check_finite(maps, "maps", caller)
        check_ndim(thresholds, "thresholds", caller, 1, "(n_thresholds,)")
        gt = _gt_boxes_validate(gt_boxes, len(maps), caller)
    else:
        gt = [np.asarray(b, dtype=np.float64).reshape(-1, 4) for b in gt_boxes]
    best = np.stack([_best_iou_per_threshold(maps[i], gt[i], thresholds) for i in range(len(maps))])
    return float(np.mean([(best >= delta).mean(axis=0).max() for delta in iou_thresholds]))
