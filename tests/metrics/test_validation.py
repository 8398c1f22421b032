"""Tests of the shared input checks and of the error type every metric raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.errors import ParbenchError
from harness.metrics import MetricInputError, anomaly
from harness.metrics._validation import (
    as_array,
    check_both_classes,
    check_finite,
    check_ndim,
    check_same_length,
    check_same_shape,
    to_binary,
)


def test_error_type_refines_value_error_and_parbench_error():
    assert issubclass(MetricInputError, ValueError)
    assert issubclass(MetricInputError, ParbenchError)


def test_package_exports_every_module():
    import harness.metrics as metrics

    for name in ("agreement", "anomaly", "collapse", "curves", "early_exit", "localization", "ranking", "retrieval"):
        assert name in metrics.__all__
        assert hasattr(metrics, name)


def test_as_array_takes_tensors_and_rejects_strings():
    tensor = torch.arange(4, dtype=torch.bfloat16)
    np.testing.assert_array_equal(as_array(tensor, "x", "f"), [0, 1, 2, 3])
    with pytest.raises(
        MetricInputError, match=r"Argument `x` of f must hold booleans, integers or floats; got dtype <U1"
    ):
        as_array(np.array(["a"]), "x", "f")


def test_check_ndim_names_axes_and_empty():
    with pytest.raises(
        MetricInputError, match=r"`maps` of aupro must have shape \(n_images, H, W\); got shape \(4, 4\)"
    ):
        check_ndim(np.zeros((4, 4)), "maps", "aupro", 3, "(n_images, H, W)")
    with pytest.raises(MetricInputError, match=r"`scores` of image_auroc is empty \(shape \(0,\)\)"):
        check_ndim(np.zeros(0), "scores", "image_auroc", 1, "(n_images,)")


def test_check_same_shape_prints_both_shapes():
    with pytest.raises(MetricInputError, match=r"got \(2, 3\) and \(2, 4\)\. Pass one"):
        check_same_shape(np.zeros((2, 3)), np.zeros((2, 4)), ("a", "b"), "f")


def test_check_same_length_prints_every_length():
    with pytest.raises(MetricInputError, match=r"`a`: 2, `b`: 3, `c`: 2"):
        check_same_length({"a": np.zeros(2), "b": np.zeros(3), "c": np.zeros(2)}, "f")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_gives_value_index_and_count(bad):
    values = np.zeros((2, 3, 4), dtype=np.float32)
    values[1, 2, 3] = bad
    values[1, 0, 0] = bad
    with pytest.raises(MetricInputError, match=rf"must be finite; got {bad} at index \(1, 0, 0\) \(2 non-finite"):
        check_finite(values, "maps", "aupro")


def test_check_finite_survives_an_overflowing_sum():
    check_finite(np.full(4, 3e38, dtype=np.float32), "x", "f")  # the sum overflows; the values are finite


def test_to_binary_gives_first_offending_value():
    assert to_binary(np.array([0.0, 1.0]), "m", "f").dtype == bool
    with pytest.raises(MetricInputError, match=r"must be binary \(0/1 or bool\); got 0.5 at index \(0, 1\)"):
        to_binary(np.array([[0.0, 0.5], [2.0, 1.0]]), "masks", "pixel_auroc")


def test_check_both_classes_says_which_class_is_missing():
    with pytest.raises(MetricInputError, match=r"holds only negative \(0\) values \(3 of them\) and no positive \(1\)"):
        check_both_classes(np.zeros(3, bool), "labels", "image_auroc")
    with pytest.raises(MetricInputError, match=r"holds only positive \(1\) values"):
        check_both_classes(np.ones(3, bool), "labels", "image_auroc")


def test_public_metric_reports_its_own_name():
    with pytest.raises(MetricInputError, match=r"Argument `scores` of image_auroc must be finite; got nan at index 1"):
        anomaly.image_auroc([0.1, np.nan, 0.3], [0, 1, 1])
