"""Early-exit metrics against slow per-sample loops, on random few-level logits (ties in the argmax included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from harness.metrics import MetricInputError, early_exit

from .conftest import N_CASES, PROFILE, assert_close, tied_values


def _reference_argmax(row) -> int:
    """First index of the largest value, by a plain loop (ties go to the lowest class)."""
    best = 0
    for c in range(1, len(row)):
        if row[c] > row[best]:
            best = c
    return best


def _reference_accuracy(exit_logits, labels, exit_layers) -> float:
    hits = 0
    for i in range(len(labels)):
        hits += _reference_argmax(exit_logits[exit_layers[i]][i]) == labels[i]
    return hits / len(labels)


def _reference_mean(values) -> float:
    total = 0.0
    for value in values:
        total += float(value)
    return total / len(values)


def _case(case: int):
    rng = np.random.default_rng([case, 70])
    n_exits, n_samples, n_classes = int(rng.integers(1, 6)), int(rng.integers(1, 30)), int(rng.integers(2, 6))
    logits = tied_values(rng, (n_exits, n_samples, n_classes), n_levels=int(rng.integers(2, 4)))
    labels = rng.integers(0, n_classes, n_samples)
    exit_layers = rng.integers(0, n_exits, n_samples)
    costs = np.cumsum(rng.integers(1, 5, n_exits)).astype(float) + rng.random(n_exits)
    return logits, labels, exit_layers, costs


@pytest.mark.parametrize("case", range(N_CASES))
def test_accuracies_match_the_slow_loop(case):
    logits, labels, exit_layers, _ = _case(case)
    assert_close(early_exit.early_exit_accuracy(logits, labels, exit_layers),
                 _reference_accuracy(logits, labels, exit_layers), what="early_exit_accuracy")
    per_exit = early_exit.per_exit_accuracy(logits, labels)
    assert list(per_exit) == list(range(len(logits)))
    for k, value in per_exit.items():
        assert_close(value, _reference_accuracy(logits, labels, [k] * len(labels)), what=f"exit {k}")


@pytest.mark.parametrize("case", range(N_CASES))
def test_costs_and_exit_layer_match_the_slow_loop(case):
    _, _, exit_layers, costs = _case(case)
    depths = np.arange(1, len(costs) + 1) * 2
    assert_close(early_exit.mean_exit_layer(exit_layers, exit_depths=depths),
                 _reference_mean([depths[k] for k in exit_layers]))
    paid = _reference_mean([costs[k] for k in exit_layers])
    assert_close(early_exit.expected_cost(exit_layers, costs), paid)
    full = float(costs[-1]) * 0.9
    assert_close(early_exit.speedup(exit_layers, costs, full_cost=full), full / paid, atol=1e-9)


def test_ties_go_to_the_lowest_class():
    logits = np.array([[[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]])
    assert early_exit.early_exit_accuracy(logits, [0, 1], [0, 0]) == 1.0
    assert early_exit.early_exit_accuracy(logits, [1, 2], [0, 0]) == 0.0


def test_tensors_and_float_indices_are_accepted():
    logits = torch.tensor([[[2.0, 0.0]], [[0.0, 2.0]]])
    assert early_exit.early_exit_accuracy(logits, torch.tensor([1]), np.array([1.0])) == 1.0
    assert early_exit.per_exit_accuracy(logits, [1]) == {0: 0.0, 1: 1.0}


@PROFILE
@given(n_exits=st.integers(1, 5), n_samples=st.integers(1, 20), data=st.data())
def test_exiting_everything_last_is_the_full_model(n_exits, n_samples, data):
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    logits = tied_values(rng, (n_exits, n_samples, 3))
    labels = rng.integers(0, 3, n_samples)
    last = np.full(n_samples, n_exits - 1)
    assert early_exit.early_exit_accuracy(logits, labels, last) == early_exit.per_exit_accuracy(logits, labels)[
        n_exits - 1]
    costs = np.arange(1.0, n_exits + 1)
    assert early_exit.speedup(last, costs, full_cost=float(n_exits)) == 1.0


LOGITS = np.zeros((2, 3, 4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: early_exit.early_exit_accuracy(LOGITS[0], [0, 1, 2], [0, 0, 0]),
                     r"`exit_logits` of early_exit_accuracy must have shape \(n_exits, n_samples, n_classes\); "
                     r"got shape \(3, 4\)", id="logits-2d"),
        pytest.param(lambda: early_exit.early_exit_accuracy(LOGITS, [0, 1, 4], [0, 0, 0]),
                     r"`labels` of early_exit_accuracy must hold class indices in \[0, 3\]; got 4 at index 2 "
                     r"\(1 out of range\)", id="label-range"),
        pytest.param(lambda: early_exit.early_exit_accuracy(LOGITS, [0, 1, 2], [0, 2, -1]),
                     r"`exit_layers` of early_exit_accuracy must hold exit indices in \[0, 1\]; got 2 at index 1 "
                     r"\(2 out of range\)", id="exit-range"),
        pytest.param(lambda: early_exit.early_exit_accuracy(LOGITS, [0, 1], [0, 0, 0]),
                     r"same length along axis 0; got `exit_logits\[0\]`: 3, `labels`: 2, `exit_layers`: 3",
                     id="lengths"),
        pytest.param(lambda: early_exit.early_exit_accuracy(LOGITS, [0, 1, 2], [0.5, 0, 0]),
                     r"`exit_layers` of early_exit_accuracy must hold integers; got 0.5 at index 0", id="fractional"),
        pytest.param(lambda: early_exit.per_exit_accuracy(np.full((1, 1, 2), np.nan), [0]),
                     r"`exit_logits` of per_exit_accuracy must be finite; got nan", id="nan"),
        pytest.param(lambda: early_exit.mean_exit_layer([0, 1], exit_depths=[3, 3]),
                     r"`exit_depths` of mean_exit_layer must be strictly increasing; got \[3.0, 3.0\]", id="depths"),
        pytest.param(lambda: early_exit.expected_cost([0, 1], [1.0, 0.0]),
                     r"`exit_costs` of expected_cost must be > 0 \(a cost per image\); got 0.0 at exit 1", id="cost"),
        pytest.param(lambda: early_exit.speedup([0], [1.0], full_cost=-2.0),
                     r"`full_cost` of speedup must be one finite number > 0; got -2.0", id="full-cost"),
        pytest.param(lambda: early_exit.expected_cost([True], [1.0]),
                     r"`exit_layers` of expected_cost must hold integers; got booleans", id="bool"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
