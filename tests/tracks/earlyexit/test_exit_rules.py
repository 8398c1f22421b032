"""Exit rules against slow per-sample loops that follow LGViT's inference code, ties and thresholds included."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics import MetricInputError
from harness.tracks.earlyexit import (
    confidence_exit,
    entropy_exit,
    patience_confidence_exit,
    patience_exit,
    softmax_entropy,
)

SEED = 20240901
N_CASES = 25


def _softmax(row):
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def _entropy(row):
    return -sum(p * math.log(p) for p in _softmax(row) if p > 0)


def _argmax(row):
    best = 0
    for c in range(1, len(row)):
        if row[c] > row[best]:
            best = c
    return best


def _reference_confidence(logits, threshold):
    out = []
    for i in range(logits.shape[1]):
        taken = logits.shape[0] - 1
        for k in range(logits.shape[0]):
            if max(_softmax(logits[k, i])) > threshold:
                taken = k
                break
        out.append(taken)
    return out


def _reference_entropy(logits, threshold):
    out = []
    for i in range(logits.shape[1]):
        taken = logits.shape[0] - 1
        for k in range(logits.shape[0]):
            if _entropy(logits[k, i]) < threshold:
                taken = k
                break
        out.append(taken)
    return out


def _reference_patience(logits, patience):
    """LGViT's 'patience' loop: cnt counts the run of equal predictions, exit when it equals the patience."""
    out = []
    for i in range(logits.shape[1]):
        taken, cnt, pred = logits.shape[0] - 1, 0, None
        for k in range(logits.shape[0]):
            current = _argmax(logits[k, i])
            if cnt == 0:
                pred, cnt = current, 1
            elif pred == current:
                cnt += 1
            else:
                pred, cnt = current, 1
            if cnt == patience:
                taken = k
                break
        out.append(taken)
    return out


def _reference_patience_confidence(logits, threshold, patience):
    """LGViT's 'patient_and_confident' loop: pct counts consecutive exits with entropy below the threshold."""
    out = []
    for i in range(logits.shape[1]):
        taken, pct = logits.shape[0] - 1, 0
        for k in range(logits.shape[0]):
            pct = pct + 1 if _entropy(logits[k, i]) < threshold else 0
            if pct == patience:
                taken = k
                break
        out.append(taken)
    return out


def _case(case: int):
    rng = np.random.default_rng([SEED, case])
    n_exits, n_samples, n_classes = int(rng.integers(1, 7)), int(rng.integers(1, 25)), int(rng.integers(2, 5))
    # few levels: equal logits (argmax ties, agreeing exits) and equal confidences are common
    logits = rng.integers(0, 4, size=(n_exits, n_samples, n_classes)).astype(float)
    return rng, logits


@pytest.mark.parametrize("case", range(N_CASES))
def test_confidence_and_entropy_rules_match_the_slow_loop(case):
    rng, logits = _case(case)
    for threshold in [*rng.uniform(0.2, 1.0, 3), 0.0, 1.0]:
        np.testing.assert_array_equal(confidence_exit(logits, threshold=threshold),
                                      _reference_confidence(logits, threshold))
    for threshold in [*rng.uniform(0.0, 1.5, 3), 0.0, 10.0]:
        np.testing.assert_array_equal(entropy_exit(logits, threshold=threshold), _reference_entropy(logits, threshold))


@pytest.mark.parametrize("case", range(N_CASES))
def test_patience_rules_match_the_slow_loop(case):
    rng, logits = _case(case)
    for patience in range(1, len(logits) + 1):
        np.testing.assert_array_equal(patience_exit(logits, patience=patience), _reference_patience(logits, patience))
        threshold = float(rng.uniform(0.2, 1.2))
        np.testing.assert_array_equal(patience_confidence_exit(logits, threshold=threshold, patience=patience),
                                      _reference_patience_confidence(logits, threshold, patience))


def test_values_equal_to_the_threshold_do_not_exit():
    logits = np.zeros((2, 1, 2))  # confidence exactly 0.5 and entropy exactly log(2) at both exits
    assert confidence_exit(logits, threshold=0.5).tolist() == [1]
    assert confidence_exit(logits, threshold=0.49).tolist() == [0]
    entropy = float(softmax_entropy(logits)[0, 0])
    assert entropy_exit(logits, threshold=entropy).tolist() == [1]
    assert entropy_exit(logits, threshold=np.nextafter(entropy, 1.0)).tolist() == [0]


def test_patience_one_exits_first_and_pcee_with_patience_one_is_the_entropy_rule():
    rng = np.random.default_rng(SEED)
    logits = rng.normal(size=(4, 30, 3)) * 3
    assert (patience_exit(logits, patience=1) == 0).all()
    np.testing.assert_array_equal(patience_confidence_exit(logits, threshold=0.5, patience=1),
                                  entropy_exit(logits, threshold=0.5))


def test_entropy_is_stable_for_extreme_logits():
    logits = np.array([[[1000.0, -1000.0, 0.0]]])
    assert softmax_entropy(logits)[0, 0] == 0.0
    assert confidence_exit(torch.tensor(logits), threshold=0.99).tolist() == [0]


@settings(derandomize=True, deadline=None, max_examples=40, database=None)
@given(n_exits=st.integers(1, 6), data=st.data())
def test_a_higher_confidence_threshold_never_exits_earlier(n_exits, data):
    seed = data.draw(st.integers(0, 2**16))
    logits = np.random.default_rng(seed).integers(0, 3, size=(n_exits, 8, 3)).astype(float)
    low, high = sorted(data.draw(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2)))
    assert (confidence_exit(logits, threshold=low) <= confidence_exit(logits, threshold=high)).all()
    assert (entropy_exit(logits, threshold=high) <= entropy_exit(logits, threshold=low)).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: confidence_exit(np.zeros((3, 2)), threshold=0.5),
                     r"`exit_logits` of confidence_exit must have shape \(n_exits, n_samples, n_classes\)", id="2d"),
        pytest.param(lambda: entropy_exit(np.full((1, 1, 2), np.inf), threshold=0.5),
                     r"`exit_logits` of softmax_entropy must be finite; got inf", id="inf"),
        pytest.param(lambda: confidence_exit(np.zeros((1, 1, 2)), threshold=float("nan")),
                     r"`threshold` of confidence_exit must be finite; got nan", id="nan-threshold"),
        pytest.param(lambda: patience_exit(np.zeros((3, 1, 2)), patience=0),
                     r"`patience` of patience_exit must be an int >= 1; got 0", id="patience-0"),
        pytest.param(lambda: patience_exit(np.zeros((3, 1, 2)), patience=2.0),
                     r"`patience` of patience_exit must be an int >= 1; got 2.0", id="patience-float"),
        pytest.param(lambda: patience_confidence_exit(np.zeros((3, 1, 2)), threshold=0.5, patience=4),
                     r"`patience` of patience_confidence_exit is 4, more than the 3 exits", id="patience-too-long"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
