"""Invariances written once over tables of metrics, driven by hypothesis with few-level values."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.metrics import agreement, anomaly, ranking, retrieval

from .conftest import PROFILE

LEVELS = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0])

#: Metrics of (scores, binary truth) that depend on the order of the scores only.
ORDER_METRICS_1D = {
    "image_auroc": anomaly.image_auroc,
    "average_precision": anomaly.average_precision,
    "f1_max": anomaly.f1_max,
}
ORDER_METRICS_MAPS = {
    "pixel_auroc": anomaly.pixel_auroc,
    "pixel_average_precision": anomaly.pixel_average_precision,
    "pixel_f1_max": anomaly.pixel_f1_max,
    "aupro": anomaly.aupro,
}
ORDER_METRICS_RANKING = {
    "hit_rate_at_k": lambda s, r: ranking.hit_rate_at_k(s, r, k=3),
    "ndcg_at_k": lambda s, r: ranking.ndcg_at_k(s, r, k=3),
    "mrr": ranking.mrr,
}
SYMMETRIC_METRICS = {"ccc": agreement.ccc, "pearson": agreement.pearson, "rmse": agreement.rmse}


def _increasing_transforms(values: np.ndarray) -> list[np.ndarray]:
    """Shift, positive scale and a strictly increasing non-linear map of ``values``."""
    return [values + 3.5, values * 7.0, np.exp(values) - 0.5]


def _with_both_classes(truth: np.ndarray) -> np.ndarray:
    flat = truth.reshape(-1)
    flat[0], flat[-1] = True, False
    return truth


@PROFILE
@given(scores=arrays(np.float64, st.integers(2, 30), elements=LEVELS), data=st.data())
@example(scores=np.zeros(4), data=None)  # all tied
def test_1d_order_metrics_are_invariant_to_increasing_maps(scores, data):
    n = scores.size
    truth = _with_both_classes(
        np.arange(n) % 2 == 0 if data is None else data.draw(arrays(bool, n, elements=st.booleans()))
    )
    for name, metric in ORDER_METRICS_1D.items():
        value = metric(scores, truth)
        for transformed in _increasing_transforms(scores):
            assert abs(metric(transformed, truth) - value) < 1e-12, name


@PROFILE
@given(maps=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 5), st.integers(2, 5)), elements=LEVELS))
@example(maps=np.zeros((1, 2, 2)))
def test_map_order_metrics_are_invariant_to_increasing_maps(maps):
    masks = _with_both_classes((np.arange(maps.size) % 3 == 0).reshape(maps.shape))
    for name, metric in ORDER_METRICS_MAPS.items():
        value = metric(maps, masks)
        for transformed in _increasing_transforms(maps):
            assert abs(metric(transformed, masks) - value) < 1e-9, name


@PROFILE
@given(scores=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 8)), elements=LEVELS))
def test_ranking_metrics_are_invariant_to_increasing_maps(scores):
    relevance = np.zeros(scores.shape, dtype=bool)
    relevance[:, -1] = True
    for name, metric in ORDER_METRICS_RANKING.items():
        value = metric(scores, relevance)
        for transformed in _increasing_transforms(scores):
            assert abs(metric(transformed, relevance) - value) < 1e-12, name


@PROFILE
@given(distmat=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 8)), elements=LEVELS))
def test_reid_is_invariant_to_increasing_maps_of_distances(distmat):
    n_q, n_g = distmat.shape
    q_ids, g_ids = np.arange(n_q) % 2, np.arange(n_g) % 2
    q_cams, g_cams = np.zeros(n_q, int), np.ones(n_g, int)
    value = retrieval.reid_map_cmc(distmat, q_ids, g_ids, q_cams, g_cams)
    for transformed in _increasing_transforms(distmat):
        assert retrieval.reid_map_cmc(transformed, q_ids, g_ids, q_cams, g_cams) == value


@PROFILE
@given(scores=arrays(np.float64, st.integers(2, 30), elements=LEVELS))
def test_auroc_of_negated_scores_is_one_minus_auroc(scores):
    labels = _with_both_classes(np.arange(scores.size) % 3 == 1)
    assert abs(anomaly.image_auroc(-scores, labels) - (1.0 - anomaly.image_auroc(scores, labels))) < 1e-12


@PROFILE
@given(pair=arrays(np.float64, st.tuples(st.just(2), st.integers(3, 20)), elements=st.floats(-5, 5, width=32)))
def test_agreement_metrics_are_symmetric(pair):
    pred, target = pair[0].copy(), pair[1].copy()
    pred[0], target[0] = pred[0] + 11.0, target[0] - 13.0  # neither input constant
    for name, metric in SYMMETRIC_METRICS.items():
        assert abs(metric(pred, target) - metric(target, pred)) < 1e-12, name
    assert abs(agreement.pearson(3.0 * pred + 1.0, target) - agreement.pearson(pred, target)) < 1e-9
