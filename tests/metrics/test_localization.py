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


def _reference_best_iou(maps, gt_boxes, thresholds):
    """Best component-box IoU per (image, threshold), one image and one threshold at a time."""
    out = np.zeros((len(maps), len(thresholds)))
    for i, (score_map, gt) in enumerate(zip(maps, gt_boxes, strict=True)):
        span = score_map.max() - score_map.min()
        normalized = (score_map - score_map.min()) / span if span > 0 else np.zeros(score_map.shape)
        for t, tau in enumerate(thresholds):
            labels, n = ndimage.label(normalized > tau, structure=np.ones((3, 3)))
            for component in range(1, n + 1):
                rows, cols = np.nonzero(labels == component)
                box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
                out[i, t] = max(out[i, t], max(_reference_iou(box, g) for g in gt))
    return out


def _tied_maps(rng, n, height, width):
    """Maps quantised to a few levels (plateaus, values equal to thresholds), some constant, 1-3 true boxes."""
    maps = np.round(rng.random((n, height, width)) * rng.integers(1, 6), 0) / 5.0
    maps[0] = 0.7  # constant
    gt = []
    for _ in range(n):
        k = int(rng.integers(1, 4))
        corners = np.sort(rng.integers(0, [width + 1, height + 1], (k, 2, 2)), axis=1).astype(float)
        boxes = np.concatenate([corners[:, 0], corners[:, 1]], axis=1)
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        gt.append(boxes)
    return maps, gt


@pytest.mark.parametrize("case", range(10))
def test_best_iou_per_threshold_matches_loops_with_ties(case):
    rng = np.random.default_rng([case, 90])
    height, width = [(1, 1), (1, 9), (7, 1), (12, 10), (16, 16)][case % 5]
    maps, gt = _tied_maps(rng, 4, height, width)
    thresholds = rng.permutation(np.array([0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0, 0.35]))  # unsorted, equal to values
    got = localization.best_iou_per_threshold(maps, gt, thresholds=thresholds)
    np.testing.assert_allclose(got, _reference_best_iou(maps, gt, thresholds), atol=1e-12)


def test_best_iou_per_threshold_equals_an_opencv_contour_loop():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(91)
    maps, gt = _blob_maps(rng, 6, side=24)
    maps[1] = np.round(maps[1] * 4) / 4  # plateaus
    thresholds = np.arange(0.0, 1.0, 0.05)
    expected = np.zeros((len(maps), len(thresholds)))
    for i, score_map in enumerate(maps):
        normalized = (score_map - score_map.min()) / (score_map.max() - score_map.min())
        for t, tau in enumerate(thresholds):
            mask = (normalized > tau).astype(np.uint8)
            contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
            for contour, links in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=False):
                if links[3] != -1:
                    continue  # a hole's contour, not a component
                x, y, w, h = cv2.boundingRect(contour)
                expected[i, t] = max(expected[i, t], max(_reference_iou((x, y, x + w, y + h), g) for g in gt[i]))
    np.testing.assert_allclose(localization.best_iou_per_threshold(maps, gt, thresholds=thresholds), expected,
                               atol=1e-12)


def test_max_box_acc_from_best_and_resampled_agree_with_weighted_copies():
    rng = np.random.default_rng(92)
    maps, gt = _blob_maps(rng, 7)
    best = localization.best_iou_per_threshold(maps, gt)
    assert_close(localization.max_box_acc_from_best(best), localization.max_box_acc_v2(maps, gt))
    counts = rng.integers(0, 3, (4, len(maps))).astype(float)
    counts[:, 0] += 1
    resampled = localization.max_box_acc_resampled(best, counts)
    for row, weights in enumerate(counts):
        repeat = np.repeat(np.arange(len(maps)), weights.astype(int))
        expected = _reference_max_box_acc_v2(maps[repeat], [gt[i] for i in repeat], localization.MAP_THRESHOLDS)
        assert_close(resampled[row], expected)
    per_iou = localization.max_box_acc_per_iou(best)
    assert_close(np.mean(list(per_iou.values())), localization.max_box_acc_from_best(best))


def _reference_rank(scores, label):
    """1 + number of other classes scoring at least as high as the true class (ties against it)."""
    return 1 + sum(scores[c] >= scores[label] for c in range(len(scores)) if c != label)


@pytest.mark.parametrize("case", range(N_CASES))
def test_top_k_accuracy_and_loc_match_loops_with_ties(case):
    rng = np.random.default_rng([case, 93])
    n, n_classes = int(rng.integers(1, 12)), int(rng.integers(2, 8))
    scores = rng.integers(0, 3, (n, n_classes)).astype(float)  # many ties
    labels = rng.integers(0, n_classes, n)
    pred = _random_boxes(rng, n)
    gt = [_random_boxes(rng, int(rng.integers(1, 3))) for _ in range(n)]
    box_ok = [max(_reference_iou(pred[i], g) for g in gt[i]) >= 0.5 for i in range(n)]
    for k in (1, 2, 5):
        in_top = [_reference_rank(scores[i], labels[i]) <= k for i in range(n)]
        assert_close(localization.top_k_accuracy(scores, labels, k=k), float(np.mean(in_top)))
        expected = float(np.mean([a and b for a, b in zip(in_top, box_ok, strict=True)]))
        assert_close(localization.top_k_loc(pred, scores, gt, labels, k=k), expected)


def test_top_k_accuracy_equals_sklearn_without_ties_and_top1_loc_with_argmax():
    from sklearn.metrics import top_k_accuracy_score

    rng = np.random.default_rng(94)
    scores, labels = rng.random((40, 6)), rng.integers(0, 6, 40)
    labels[:6] = np.arange(6)
    for k in (1, 3):
        want = top_k_accuracy_score(labels, scores, k=k, labels=np.arange(6))
        assert_close(localization.top_k_accuracy(scores, labels, k=k), want)
    pred = _random_boxes(rng, 40)
    gt = [_random_boxes(rng, 1) for _ in range(40)]
    assert_close(localization.top_k_loc(pred, scores, gt, labels, k=1),
                 localization.top1_loc(pred, scores.argmax(axis=1), gt, labels))


def _reference_greedy(pred, scores, gt, threshold=0.5):
    """Top n_gt boxes by score (stable), then pairs in decreasing IoU, one loop at a time."""
    keep = sorted(range(len(pred)), key=lambda i: -scores[i])[: len(gt)]
    pairs = sorted(((_reference_iou(pred[i], gt[j]), a, j) for a, i in enumerate(keep) for j in range(len(gt))),
                   key=lambda p: (-p[0], p[1], p[2]))
    used_p, used_g, matched = set(), set(), 0
    for iou, a, j in pairs:
        if iou >= threshold and a not in used_p and j not in used_g:
            used_p.add(a)
            used_g.add(j)
            matched += 1
    return matched, keep


def _reference_optimal(pred, keep, gt, threshold=0.5):
    import itertools

    best = 0
    for perm in itertools.permutations(range(len(gt)), min(len(keep), len(gt))):
        best = max(best, sum(_reference_iou(pred[keep[a]], gt[j]) >= threshold for a, j in enumerate(perm)))
    return best


@pytest.mark.parametrize("case", range(N_CASES))
def test_multi_box_matches_match_a_greedy_loop_and_never_beat_the_optimum(case):
    rng = np.random.default_rng([case, 95])
    n = int(rng.integers(1, 6))
    gt = [_random_boxes(rng, int(rng.integers(1, 4))) + [0, 0, 1, 1] for _ in range(n)]
    pred = [np.concatenate([g + rng.integers(-1, 2, g.shape), _random_boxes(rng, int(rng.integers(0, 3)))])
            for g in gt]
    pred = [np.concatenate([np.minimum(p[:, :2], p[:, 2:]), np.maximum(p[:, :2], p[:, 2:])], axis=1) for p in pred]
    pred[0] = np.zeros((0, 4))
    scores = [rng.integers(0, 3, len(p)).astype(float) for p in pred]  # tied scores
    got = localization.multi_box_matches(pred, scores, gt)
    for i in range(n):
        want, keep = _reference_greedy(pred[i], scores[i], gt[i])
        assert got[i] == want
        assert want <= _reference_optimal(pred[i], keep, gt[i])
    assert got[0] == 0
    assert_close(localization.multi_box_recall(pred, scores, gt), got.sum() / sum(len(g) for g in gt))


def test_one_box_per_image_recalls_at_most_one_object_each():
    gt = [np.array([[0, 0, 2, 2], [5, 5, 7, 7], [9, 9, 10, 10]], dtype=float)]
    assert localization.multi_box_recall([gt[0][:1]], [np.ones(1)], gt) == pytest.approx(1 / 3)
    extra = np.concatenate([gt[0][::-1], [[0, 0, 1, 1]]])
    assert localization.multi_box_recall([extra], [np.array([0.1, 0.2, 0.3, 0.9])], gt) == pytest.approx(2 / 3)
