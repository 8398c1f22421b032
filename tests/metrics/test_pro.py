"""Tests of AUPRO and the PRO curve against a line-by-line rendering of the official MVTec AD code."""

from __future__ import annotations

from bisect import bisect

import numpy as np
import pytest
import torch
from scipy.ndimage import label

from harness.metrics import MetricInputError, anomaly
from harness.metrics import _pro as pro_module

from .conftest import AUPRO_ATOL, MAX_ROWS, MAX_SIDE, N_CASES, assert_close, binary_with_both, tied_values


def _reference_official_pro_curve(anomaly_maps, ground_truth_maps):
    """The official ``compute_pro`` of the MVTec AD evaluation code, step by step.

    Known limits: O(P log P) with an argsort of all pixels and float64 changes per pixel,
    so only for small inputs.
    """
    structure = np.ones((3, 3), dtype=int)
    num_ok_pixels = 0
    num_gt_regions = 0
    shape = anomaly_maps.shape
    fp_changes = np.zeros(shape, dtype=np.uint32)
    pro_changes = np.zeros(shape, dtype=np.float64)
    for gt_ind, gt_map in enumerate(ground_truth_maps):
        labeled, n_components = label(gt_map, structure)
        num_gt_regions += n_components
        ok_mask = labeled == 0
        num_ok_pixels += np.sum(ok_mask)
        fp_changes[gt_ind, ok_mask] = 1
        for k in range(n_components):
            region_mask = labeled == (k + 1)
            pro_changes[gt_ind, region_mask] = 1.0 / np.sum(region_mask)
    scores = np.array(anomaly_maps).ravel()
    sort_idxs = np.argsort(scores, kind="stable")[::-1]
    scores = scores[sort_idxs]
    fprs = np.cumsum(fp_changes.ravel()[sort_idxs]) / num_ok_pixels
    pros = np.cumsum(pro_changes.ravel()[sort_idxs]) / num_gt_regions
    keep = np.append(np.diff(scores) != 0, np.True_)  # the last pixel of every run of equal scores
    fprs, pros = np.clip(fprs[keep], 0, 1), np.clip(pros[keep], 0, 1)
    return np.concatenate(([0.0], fprs, [1.0])), np.concatenate(([0.0], pros, [1.0]))


def _reference_official_trapezoid(x, y, x_max):
    """The official ``generic_util.trapezoid`` with its interpolation at ``x_max``."""
    correction = 0.0
    if x_max not in x:
        ins = bisect(x, x_max)
        assert 0 < ins < len(x)
        y_interp = y[ins - 1] + ((y[ins] - y[ins - 1]) * (x_max - x[ins - 1]) / (x[ins] - x[ins - 1]))
        correction = 0.5 * (y_interp + y[ins - 1]) * (x_max - x[ins - 1])
    mask = x <= x_max
    x, y = x[mask], y[mask]
    return np.sum(0.5 * (y[1:] + y[:-1]) * (x[1:] - x[:-1])) + correction


def _reference_official_aupro(maps, masks, fpr_limit=0.3):
    fpr, pro = _reference_official_pro_curve(maps, masks)
    return _reference_official_trapezoid(fpr, pro, fpr_limit) / fpr_limit


def _random_case(case: int, *, n_levels: int | None = None):
    rng = np.random.default_rng([case, 20])
    shape = (int(rng.integers(1, MAX_ROWS)), int(rng.integers(2, MAX_SIDE)), int(rng.integers(2, MAX_SIDE)))
    maps = tied_values(rng, shape, n_levels=n_levels).astype(np.float32)
    masks = binary_with_both(rng, shape, share=rng.uniform(0.05, 0.6))
    return maps, masks


FPR_LIMITS = [0.3, 0.01, 0.05, 0.5, 0.999, 1.0]


@pytest.mark.parametrize("fpr_limit", FPR_LIMITS)
@pytest.mark.parametrize("case", range(N_CASES))
def test_aupro_matches_official_code_with_ties(case, fpr_limit):
    maps, masks = _random_case(case)
    got = anomaly.aupro(maps, masks, fpr_limit=fpr_limit)
    assert_close(got, _reference_official_aupro(maps, masks, fpr_limit), atol=AUPRO_ATOL, what=f"case {case}")


@pytest.mark.parametrize("case", range(N_CASES))
def test_aupro_matches_official_code_with_distinct_scores(case):
    rng = np.random.default_rng([case, 21])
    maps = rng.random((3, 12, 12))
    masks = binary_with_both(rng, maps.shape, share=0.2)
    assert_close(anomaly.aupro(maps, masks), _reference_official_aupro(maps, masks), atol=1e-12)


@pytest.mark.parametrize("case", range(N_CASES))
def test_pro_curve_equals_official_curve(case):
    maps, masks = _random_case(case)
    fpr, pro = anomaly.pro_curve(maps, masks)
    ref_fpr, ref_pro = _reference_official_pro_curve(maps, masks)
    np.testing.assert_allclose(fpr, ref_fpr, atol=1e-12)
    np.testing.assert_allclose(pro, ref_pro, atol=1e-12)


def _blobs(rng: np.random.Generator, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Smooth maps with rectangular and single-pixel regions; the first image has none."""
    n, h, w = shape
    masks = np.zeros(shape, dtype=bool)
    for i in range(1, n):
        y, x = rng.integers(0, h - 6), rng.integers(0, w - 6)
        masks[i, y : y + rng.integers(1, 6), x : x + rng.integers(1, 6)] = True
        masks[i, rng.integers(h), rng.integers(w)] = True
    maps = rng.random(shape) + masks * rng.uniform(0.0, 1.0)
    return maps.astype(np.float32), masks


NAMED_CASES = {
    "single-region": lambda rng: (rng.random((1, 6, 6)), np.pad(np.ones((1, 2, 2), bool), ((0, 0), (2, 2), (2, 2)))),
    "diagonal-touch-is-one-region": lambda rng: (rng.random((1, 4, 4)), np.eye(4, dtype=bool)[None]),
    "constant-maps": lambda rng: (np.full((2, 5, 5), 0.3), binary_with_both(rng, (2, 5, 5))),
    "perfect": lambda rng: (lambda m: (m + 0.1 * rng.random(m.shape), m))(binary_with_both(rng, (2, 6, 6))),
    "inverted": lambda rng: (lambda m: (-(m + 0.1 * rng.random(m.shape)), m))(binary_with_both(rng, (2, 6, 6))),
    "blobs": lambda rng: _blobs(rng, (5, 16, 16)),
}


@pytest.mark.parametrize("name", list(NAMED_CASES))
def test_aupro_named_cases(name):
    maps, masks = NAMED_CASES[name](np.random.default_rng(len(name)))
    assert_close(anomaly.aupro(maps, masks), _reference_official_aupro(maps, masks), atol=AUPRO_ATOL, what=name)


def test_diagonal_pixels_are_one_region():
    maps = np.array([[[0.9, 0.0], [0.0, 0.1]]])
    masks = np.eye(2, dtype=bool)[None]
    # One 8-connected region of two pixels: at the first threshold PRO is 0.5, not 1 (two regions).
    fpr, pro = anomaly.pro_curve(maps, masks)
    assert pro[1] == 0.5


@pytest.mark.parametrize("case", range(10))
def test_sampled_bound_and_its_fallback_stay_exact(case, monkeypatch):
    maps, masks = _blobs(np.random.default_rng([case, 22]), (4, 24, 24))
    expected = _reference_official_aupro(maps, masks)
    monkeypatch.setattr(pro_module, "SAMPLE_SIZE", 64)  # the bound comes from a sample of the pixels
    assert_close(anomaly.aupro(maps, masks), expected, atol=AUPRO_ATOL, what="sampled")
    monkeypatch.setattr(pro_module, "_normal_score_bound", lambda maps, masks, n_top, n_normal: maps.max())
    assert_close(anomaly.aupro(maps, masks), expected, atol=AUPRO_ATOL, what="fallback")


def test_aupro_with_several_parts_and_chunks(monkeypatch):
    from harness.metrics import _binary

    monkeypatch.setattr(_binary, "MIN_PART_SIZE", 100)
    monkeypatch.setattr(pro_module, "IMAGES_PER_CHUNK", 2)
    maps, masks = _blobs(np.random.default_rng(23), (7, 20, 20))
    assert_close(anomaly.aupro(maps, masks), _reference_official_aupro(maps, masks), atol=1e-12)


@pytest.mark.parametrize("backend", ["scipy", "opencv"])
def test_both_labelling_backends_give_the_official_regions(backend, monkeypatch):
    if backend == "scipy":
        monkeypatch.setattr(pro_module, "_opencv", lambda: None)
    elif pro_module._opencv() is None:
        pytest.skip("OpenCV is not installed")
    monkeypatch.setattr(pro_module, "IMAGES_PER_CHUNK", 2)
    for case in range(5):
        maps, masks = _blobs(np.random.default_rng([case, 25]), (5, 16, 16))
        masks[1, 3:6, 3:6] = np.eye(3, dtype=bool)  # diagonal neighbours: one 8-connected region
        assert_close(anomaly.aupro(maps, masks), _reference_official_aupro(maps, masks), atol=1e-12)
        fpr, pro = anomaly.pro_curve(maps, masks)
        np.testing.assert_allclose(pro, _reference_official_pro_curve(maps, masks)[1], atol=1e-12)


def test_sort_by_score_packs_float32_exactly():
    scores = np.array([0.5, -0.0, 0.0, -2.5, np.float32(1e-40), -1e-40, 0.5, 3e38, -3e38], dtype=np.float32)
    regions = np.arange(scores.size)
    got_scores, got_regions = pro_module._sort_by_score(scores, regions)
    np.testing.assert_array_equal(got_scores, np.sort(scores))
    np.testing.assert_array_equal(scores[got_regions], got_scores)  # each score kept its region
    assert not np.signbit(got_scores[got_scores == 0]).any()  # -0.0 reads as +0.0, tied with it
    got64, regions64 = pro_module._sort_by_score(scores.astype(np.float64), regions)
    np.testing.assert_array_equal(got64, np.sort(scores.astype(np.float64)))


@pytest.mark.slow
def test_cross_check_anomalib_aupro():
    """anomalib 2.7 builds the same curve in float32 torch; it agrees to float32 rounding."""
    aupro_module = pytest.importorskip("anomalib.metrics.aupro")
    maps, masks = _blobs(np.random.default_rng(24), (6, 32, 32))
    metric = aupro_module._AUPRO(fpr_limit=0.3)
    metric.update(torch.from_numpy(maps), torch.from_numpy(masks.astype(np.float32)))
    assert_close(anomaly.aupro(maps, masks), float(metric.compute()), atol=1e-5)


def test_float64_int_and_tensor_inputs():
    maps, masks = _random_case(3, n_levels=4)
    expected = _reference_official_aupro(maps, masks)
    assert_close(anomaly.aupro(maps.astype(np.float64), masks), expected, atol=1e-12)
    assert_close(anomaly.aupro((maps * 4).astype(np.int64), masks.astype(np.uint8)), expected, atol=1e-12)
    assert_close(anomaly.aupro(torch.from_numpy(maps), torch.from_numpy(masks)), expected, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"fpr_limit": 0.0}, r"`fpr_limit` of aupro must be a number in \(0, 1\]; got 0.0", id="zero"),
        pytest.param({"fpr_limit": 1.5}, r"got 1.5", id="above-one"),
        pytest.param({"fpr_limit": True}, r"got True", id="bool"),
        pytest.param({"masks": np.ones((1, 3, 3))}, r"`masks` of aupro holds only positive", id="no-normal"),
        pytest.param({"masks": np.zeros((1, 3, 3))}, r"`masks` of aupro holds only negative", id="no-region"),
        pytest.param({"masks": np.full((1, 3, 3), 0.5)}, r"must be binary .* got 0.5 at index \(0, 0, 0\)", id="soft"),
        pytest.param({"maps": np.full((1, 3, 3), np.nan)}, r"`maps` of aupro must be finite; got nan", id="nan"),
        pytest.param({"maps": np.zeros((1, 3, 4))}, r"got \(1, 3, 4\) and \(1, 3, 3\)", id="shape"),
    ],
)
def test_aupro_bad_input(kwargs, match):
    arguments = {"maps": np.zeros((1, 3, 3)), "masks": np.eye(3)[None]} | kwargs
    fpr_limit = arguments.pop("fpr_limit", 0.3)
    with pytest.raises(MetricInputError, match=match):
        anomaly.aupro(arguments["maps"], arguments["masks"], fpr_limit=fpr_limit)


def test_pro_curve_bad_input():
    with pytest.raises(MetricInputError, match=r"`masks` of pro_curve holds only negative"):
        anomaly.pro_curve(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)))
