"""Tests of box IoU, CorLoc, Top-1 Loc and MaxBoxAccV2 against loops written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from harness.metrics import MetricInputError, localization

from .conftest import N_CASES, assert_close


def _reference_iou(a, b):
    """IoU of two (x0, y0, x1, y1) boxes, one pair at a time."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    intersection = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection
    return intersection / union if union > 0 else 0.0


def _random_boxes(rng, n):
    corners = rng.integers(0, 12, (n, 2, 2)).astype(float)
    return np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)[:, [0, 1, 2, 3]]


@pytest.mark.parametrize("case", range(N_CASES))
def test_box_iou_matches_pairwise_loop(case):
    rng = np.random.default_rng([case, 80])
    boxes, other = _random_boxes(rng, int(rng.integers(1, 6))), _random_boxes(rng, int(rng.integers(1, 6)))
    expected = np.array([[_reference_iou(a, b) for b in other] for a in boxes])
    np.testing.assert_allclose(localization.box_iou(boxes, other), expected, atol=1e-12)


def test_box_iou_cross_check_torchvision():
    ops = pytest.importorskip("torchvision.ops")
    rng = np.random.default_rng(81)
    boxes, other = _random_boxes(rng, 6) + [0, 0, 1, 1], _random_boxes(rng, 5) + [0, 0, 1, 1]
    expected = ops.box_iou(torch.from_numpy(boxes), torch.from_numpy(other)).numpy()
    np.testing.assert_allclose(localization.box_iou(boxes, other), expected, atol=1e-12)


@pytest.mark.parametrize("case", range(N_CASES))
def test_corloc_and_top1_loc_match_loops(case):
    rng = np.random.default_rng([case, 82])
    n = int(rng.integers(1, 8))
    pred = _random_boxes(rng, n)
    gt = [_random_boxes(rng, int(rng.integers(1, 4))) for _ in range(n)]
    pred_labels, gt_labels = rng.integers(0, 2, n), rng.integers(0, 2, n)
    correct = [max(_reference_iou(pred[i], g) for g in gt[i]) >= 0.5 for i in range(n)]
    assert_close(localization.corloc(pred, gt), float(np.mean(correct)))
    top1 = [c and p == t for c, p, t in zip(correct, pred_labels, gt_labels, strict=True)]
    assert_close(localization.top1_loc(pred, pred_labels, gt, gt_labels), float(np.mean(top1)))


def _reference_max_box_acc_v2(maps, gt_boxes, thresholds, deltas=(0.3, 0.5, 0.7)):
    """The MaxBoxAccV2 threshold sweep, one image and one threshold at a time."""
    n_correct = {delta: np.zeros(len(thresholds)) for delta in deltas}
    for score_map, gt in zip(maps, gt_boxes, strict=True):
        span = score_map.max() - score_map.min()
        normalized = (score_map - score_map.min()) / span if span > 0 else np.zeros(score_map.shape)
        for t, tau in enumerate(thresholds):
            labels, n = ndimage.label(normalized > tau, structure=np.ones((3, 3)))
            best = 0.0
            for component in range(1, n + 1):
                rows, cols = np.nonzero(labels == component)
                box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
                best = max(best, max(_reference_iou(box, g) for g in gt))
            for delta in deltas:
                n_correct[delta][t] += best >= delta
    return float(np.mean([n_correct[delta].max() / len(maps) for delta in deltas]))


def _blob_maps(rng, n, side=16):
    maps = rng.random((n, side, side)) * 0.3
    gt = []
    for i in range(n):
        y, x = rng.integers(0, side - 5, 2)
        h, w = rng.integers(2, 6, 2)
        maps[i, y : y + h, x : x + w] += rng.uniform(0.2, 1.0)
        maps[i, rng.integers(side), rng.integers(side)] += 0.5  # a stray peak: a second component
        gt.append(np.array([[x, y, x + w, y + h]], dtype=float))
    return maps, gt


@pytest.mark.parametrize("case", range(8))
def test_max_box_acc_v2_matches_threshold_sweep(case):
    rng = np.random.default_rng([case, 83])
    maps, gt = _blob_maps(rng, int(rng.integers(1, 5)))
    thresholds = np.arange(0.0, 1.0, 0.05)
    expected = _reference_max_box_acc_v2(maps, gt, thresholds)
    assert_close(localization.max_box_acc_v2(maps, gt, thresholds=thresholds), expected)


def test_components_are_the_external_contours_of_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(84)
    maps, _ = _blob_maps(rng, 3)
    for score_map in maps:
        mask = score_map > np.quantile(score_map, 0.8)
        contours = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        from_cv2 = sorted((x, y, x + w, y + h) for x, y, w, h in map(cv2.boundingRect, contours))
        labels, _ = ndimage.label(mask, structure=np.ones((3, 3)))
        ours = sorted((s[1].start, s[0].start, s[1].stop, s[0].stop) for s in ndimage.find_objects(labels))
        assert ours == from_cv2


def test_max_box_acc_v2_perfect_and_constant_maps():
    maps = np.zeros((2, 8, 8))
    maps[0, 2:5, 3:6] = 1.0
    maps[1, 0:2, 0:8] = 3.0
    gt = [np.array([[3, 2, 6, 5]]), np.array([[0, 0, 8, 2]])]
    assert localization.max_box_acc_v2(maps, gt) == 1.0
    assert localization.max_box_acc_v2(np.ones((2, 8, 8)), gt) == 0.0  # no foreground at any threshold


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: localization.box_iou([[2, 0, 1, 1]], [[0, 0, 1, 1]]), r"x0 <= x1 .* got \[2.0", id="xyxy"),
        pytest.param(lambda: localization.box_iou([[0, 0, 1]], [[0, 0, 1, 1]]), r"shape \(n_boxes, 4\)", id="shape"),
        pytest.param(lambda: localization.corloc([[0, 0, 1, 1]], []), r"one entry per image \(1\); got 0", id="count"),
        pytest.param(lambda: localization.corloc([[0, 0, 1, 1]], [np.zeros((0, 4))]), r"has no box", id="no-gt"),
        pytest.param(
            lambda: localization.top1_loc([[0, 0, 1, 1]], [1, 2], [[[0, 0, 1, 1]]], [1]),
            r"`pred_boxes`: 1, `pred_labels`: 2, `gt_labels`: 1",
            id="labels",
        ),
        pytest.param(
            lambda: localization.max_box_acc_v2(np.full((1, 2, 2), np.nan), [[[0, 0, 1, 1]]]), r"got nan", id="nan"
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
