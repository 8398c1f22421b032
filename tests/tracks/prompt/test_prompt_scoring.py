"""Prompt-track metrics against a slow per-image loop, ties included, and their resampled form."""

from __future__ import annotations

import numpy as np
import pytest

from harness.tracks.prompt import prompt_metrics
from harness.tracks.prompt.scoring import base_novel_items, item_metrics

RNG_SEED = 7


def _reference_slow_metrics(logits, b2n, labels, n_base):
    """One image at a time; ties go to the first of the tied classes (lowest index)."""

    def top(row, classes):
        best = classes[0]
        for c in classes[1:]:
            if row[c] > row[best]:
                best = c
        return best

    n_classes = logits.shape[1]
    right = [top(logits[i], list(range(n_classes))) == labels[i] for i in range(len(labels))]
    base = [top(b2n[i], list(range(n_base))) == labels[i] for i in range(len(labels)) if labels[i] < n_base]
    novel = [top(b2n[i], list(range(n_base, n_classes))) == labels[i] for i in range(len(labels))
             if labels[i] >= n_base]
    b, n = sum(base) / len(base), sum(novel) / len(novel)
    return {"harmonic_mean": 0.0 if b + n == 0 else 2 * b * n / (b + n), "accuracy": sum(right) / len(right),
            "base_accuracy": b, "novel_accuracy": n}


@pytest.mark.parametrize("levels", [pytest.param(2, id="many-ties"), pytest.param(4, id="some-ties"),
                                    pytest.param(1000, id="few-ties")])
@pytest.mark.parametrize("n_classes", [3, 10])
def test_metrics_match_the_slow_reference(levels, n_classes):
    rng = np.random.default_rng(RNG_SEED + levels + n_classes)
    n_base = (n_classes + 1) // 2
    for _ in range(5):
        labels = rng.permutation(np.arange(40) % n_classes)
        logits = rng.integers(0, levels, size=(40, n_classes)).astype(np.float32)
        b2n = rng.integers(0, levels, size=(40, n_classes)).astype(np.float32)
        got = prompt_metrics(logits, b2n, labels, n_base)
        want = _reference_slow_metrics(logits, b2n, labels, n_base)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=1e-12), (key, got[key], value)
            assert isinstance(got[key], float)


def test_resampled_metrics_with_unit_weights_equal_the_metrics():
    rng = np.random.default_rng(RNG_SEED)
    labels = rng.permutation(np.arange(30) % 6)
    logits, b2n = rng.normal(size=(30, 6)), rng.normal(size=(30, 6))
    items = base_novel_items(logits, b2n, labels, 3)
    values = item_metrics(items, np.ones((1, 30)))
    for key, value in prompt_metrics(logits, b2n, labels, 3).items():
        assert values[key][0] == pytest.approx(value, abs=1e-12)
    doubled = item_metrics(items, np.full((2, 30), 2.0))
    assert doubled["harmonic_mean"][1] == pytest.approx(values["harmonic_mean"][0])


def test_novel_classes_score_only_among_novel_classes():
    labels = np.array([0, 1, 2, 3])
    b2n = np.array([[9.0, 0, 0, 0], [0, 0, 9, 1], [0, 9, 5, 1], [9, 9, 0, 1]])
    got = prompt_metrics(b2n, b2n, labels, 2)
    assert got["base_accuracy"] == 0.5 and got["novel_accuracy"] == 1.0 and got["accuracy"] == 0.25


def test_a_test_set_without_novel_images_says_why():
    with pytest.raises(ValueError, match="need test images of base"):
        prompt_metrics(np.zeros((2, 4)), np.zeros((2, 4)), np.array([0, 1]), 2)
