"""Tests of image- and pixel-level AUROC, average precision and F1-max against scikit-learn and torchmetrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from harness.metrics import MetricInputError, anomaly

from .conftest import ATOL, MAX_ROWS, MAX_SIDE, N_CASES, assert_close, binary_with_both, tied_values


def _reference_sklearn_auroc(scores, labels):
    return roc_auc_score(y_true=np.ravel(labels), y_score=np.ravel(scores))


def _reference_sklearn_ap(scores, labels):
    return average_precision_score(y_true=np.ravel(labels), y_score=np.ravel(scores))


def _reference_sklearn_f1_max(scores, labels):
    precision, recall, _ = precision_recall_curve(y_true=np.ravel(labels), y_score=np.ravel(scores))
    f1 = np.divide(
        2 * precision * recall, precision + recall, out=np.zeros_like(precision), where=precision + recall > 0
    )
    return float(f1.max())


IMAGE_METRICS = {
    "auroc": (anomaly.image_auroc, _reference_sklearn_auroc),
    "ap": (anomaly.average_precision, _reference_sklearn_ap),
    "f1_max": (anomaly.f1_max, _reference_sklearn_f1_max),
}
PIXEL_METRICS = {
    "auroc": (anomaly.pixel_auroc, _reference_sklearn_auroc),
    "ap": (anomaly.pixel_average_precision, _reference_sklearn_ap),
    "f1_max": (anomaly.pixel_f1_max, _reference_sklearn_f1_max),
}


def _image_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(len(name))
    n = 40
    labels = binary_with_both(rng, (n,))
    cases = {
        "ties": lambda: tied_values(rng, (n,)),
        "distinct": lambda: rng.random(n),
        "constant": lambda: np.full(n, 0.7),
        "perfect": lambda: labels + 0.1 * rng.random(n),
        "inverted": lambda: -(labels + 0.1 * rng.random(n)),
        "two_levels_tied_across_classes": lambda: np.where(rng.random(n) < 0.5, 1.0, 0.0),
    }
    return cases[name](), labels


IMAGE_CASES = ["ties", "distinct", "constant", "perfect", "inverted", "two_levels_tied_across_classes"]


@pytest.mark.parametrize("metric", list(IMAGE_METRICS))
@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in IMAGE_CASES])
def test_image_metrics_match_sklearn_on_named_cases(metric, case):
    ours, reference = IMAGE_METRICS[metric]
    scores, labels = _image_case(case)
    assert_close(ours(scores, labels), reference(scores, labels), what=f"{metric}/{case}")


@pytest.mark.parametrize("metric", list(IMAGE_METRICS))
@pytest.mark.parametrize("case", range(N_CASES))
def test_image_metrics_match_sklearn_on_random_ties(metric, case):
    ours, reference = IMAGE_METRICS[metric]
    rng = np.random.default_rng([case, 10])
    n = int(rng.integers(2, 50))
    scores, labels = tied_values(rng, (n,)), binary_with_both(rng, (n,), share=rng.uniform(0.05, 0.95))
    assert_close(ours(scores, labels), reference(scores, labels), what=f"{metric}/{case}")


@pytest.mark.parametrize("metric", list(PIXEL_METRICS))
@pytest.mark.parametrize("case", range(N_CASES))
def test_pixel_metrics_match_sklearn_on_flattened_maps(metric, case):
    ours, reference = PIXEL_METRICS[metric]
    rng = np.random.default_rng([case, 11])
    shape = (int(rng.integers(1, MAX_ROWS)), int(rng.integers(1, MAX_SIDE)), int(rng.integers(2, MAX_SIDE)))
    maps, masks = tied_values(rng, shape).astype(np.float32), binary_with_both(rng, shape)
    assert_close(ours(maps, masks), reference(maps, masks), what=f"{metric}/{case}")


def test_pixel_auroc_with_several_sorted_parts(monkeypatch):
    from harness.metrics import _binary

    monkeypatch.setattr(_binary, "MIN_PART_SIZE", 50)
    rng = np.random.default_rng(5)
    maps, masks = tied_values(rng, (4, 16, 16), n_levels=30), binary_with_both(rng, (4, 16, 16))
    for ours, reference in PIXEL_METRICS.values():
        assert_close(ours(maps, masks), reference(maps, masks))


@pytest.mark.parametrize("case", range(5))
def test_cross_check_torchmetrics_auroc_and_ap(case):
    rng = np.random.default_rng([case, 12])
    scores, labels = tied_values(rng, (64,)), binary_with_both(rng, (64,))
    preds, target = torch.from_numpy(scores), torch.from_numpy(labels.astype(np.int64))
    assert_close(anomaly.image_auroc(scores, labels), float(binary_auroc(preds, target)), atol=1e-6)
    assert_close(anomaly.average_precision(scores, labels), float(binary_average_precision(preds, target)), atol=1e-6)


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int32, np.uint8, bool], ids=lambda d: np.dtype(d).name
)
def test_score_dtypes(dtype):
    rng = np.random.default_rng(6)
    scores = rng.integers(0, 2 if dtype is bool else 5, 30).astype(dtype)
    labels = binary_with_both(rng, (30,))
    assert_close(anomaly.image_auroc(scores, labels), _reference_sklearn_auroc(scores.astype(float), labels))


def test_torch_tensors_and_label_dtypes():
    rng = np.random.default_rng(7)
    maps, masks = tied_values(rng, (2, 5, 5)), binary_with_both(rng, (2, 5, 5))
    expected = _reference_sklearn_auroc(maps, masks)
    assert_close(anomaly.pixel_auroc(torch.from_numpy(maps), torch.from_numpy(masks)), expected)
    assert_close(anomaly.pixel_auroc(maps, masks.astype(np.float32)), expected)
    assert_close(anomaly.pixel_auroc(maps.tolist(), masks.astype(int).tolist()), expected)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors():
    rng = np.random.default_rng(8)
    maps, masks = tied_values(rng, (2, 5, 5)), binary_with_both(rng, (2, 5, 5))
    got = anomaly.pixel_auroc(torch.from_numpy(maps).cuda(), torch.from_numpy(masks).cuda())
    assert_close(got, _reference_sklearn_auroc(maps, masks))


def test_validate_false_gives_the_same_value():
    scores, labels = _image_case("ties")
    for ours, _ in IMAGE_METRICS.values():
        assert ours(scores, labels, validate=False) == ours(scores, labels)


def test_inputs_are_not_modified():
    rng = np.random.default_rng(9)
    maps, masks = tied_values(rng, (2, 6, 6)), binary_with_both(rng, (2, 6, 6))
    before = maps.copy()
    for ours, _ in PIXEL_METRICS.values():
        ours(maps, masks)
    np.testing.assert_array_equal(maps, before)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: anomaly.image_auroc([0.1, 0.2], [0, 1, 1]), r"got \(2,\) and \(3,\)", id="length"),
        pytest.param(lambda: anomaly.image_auroc([0.1, np.inf], [0, 1]), r"got inf at index 1", id="inf"),
        pytest.param(lambda: anomaly.image_auroc([0.1, 0.2], [1, 1]), r"only positive \(1\)", id="one-class"),
        pytest.param(lambda: anomaly.f1_max([0.1, 0.2], [0, 2]), r"must be binary .* got 2 at index 1", id="labels"),
        pytest.param(lambda: anomaly.average_precision([], []), r"is empty", id="empty"),
        pytest.param(
            lambda: anomaly.pixel_auroc(np.zeros((1, 4, 4)), np.zeros((1, 2, 2))),
            r"got \(1, 4, 4\) and \(1, 2, 2\)\. Anomaly maps must be at ground-truth resolution",
            id="resolution",
        ),
        pytest.param(
            lambda: anomaly.pixel_average_precision(np.zeros((4, 4)), np.zeros((4, 4))),
            r"`maps` of pixel_average_precision must have shape \(n_images, H, W\)",
            id="ndim",
        ),
        pytest.param(
            lambda: anomaly.pixel_f1_max(np.zeros((1, 2, 2)), np.zeros((1, 2, 2))),
            r"`masks` of pixel_f1_max holds only negative \(0\) values",
            id="no-anomaly",
        ),
    ],
)
def test_bad_input_raises_with_a_helpful_message(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()


def test_atol_is_tight():
    assert ATOL <= 1e-9
