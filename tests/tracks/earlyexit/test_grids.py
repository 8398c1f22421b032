"""Threshold grids per rule and the sweep of exits, against loops over thresholds and samples."""

from __future__ import annotations

import numpy as np
import pytest

from harness.tracks.earlyexit import RULES, sweep_exits, threshold_grid
from harness.tracks.earlyexit.grids import CONFIDENCE_GRID, rule_code, score_exit

SEED = 0


def _softmax(row):
    e = np.exp(row - row.max())
    return e / e.sum()


def test_grids_span_first_exit_to_full_model():
    assert threshold_grid("confidence", n_exits=4, n_classes=10)[[0, -1]].tolist() == [0.0, 1.0]
    entropy = threshold_grid("entropy", n_exits=4, n_classes=10)
    assert entropy[0] == 0.0 and entropy[-1] > np.log(10)
    assert threshold_grid("static", n_exits=3, n_classes=10).tolist() == [0.0, 1.0, 2.0]
    assert np.array_equal(threshold_grid("policy", n_exits=3, n_classes=2), CONFIDENCE_GRID)
    with pytest.raises(ValueError, match="exit rule must be one of confidence, entropy, patience"):
        rule_code("fastest")


@pytest.mark.parametrize("case", range(6))
def test_sweep_matches_a_loop(case):
    rng = np.random.default_rng([SEED, case])
    logits = rng.integers(-2, 3, size=(4, 12, 3)).astype(float)  # few levels: ties with thresholds happen
    for rule in ("confidence", "entropy"):
        grid = threshold_grid(rule, n_exits=4, n_classes=3)
        got = sweep_exits(rule, logits, grid)
        for t, threshold in enumerate(grid):
            for i in range(12):
                k = 0
                while k < 3:
                    p = _softmax(logits[k, i])
                    value = p.max() if rule == "confidence" else -(p * np.log(p)).sum()
                    if (value > threshold) if rule == "confidence" else (value < threshold):
                        break
                    k += 1
                assert got[t, i] == k, (rule, threshold, i)
    static = sweep_exits("static", logits, threshold_grid("static", n_exits=4, n_classes=3))
    assert static.tolist() == [[k] * 12 for k in range(4)]


def test_score_exit_is_strict_and_falls_back_to_the_last_exit():
    scores = np.array([[0.5, 0.9, 0.1], [0.7, 0.2, 0.1], [1.0, 1.0, 1.0]])
    assert score_exit(scores, threshold=0.5).tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match="rule 'policy' exits on the method's exit scores"):
        sweep_exits("policy", np.zeros((3, 3, 2)), CONFIDENCE_GRID)
    assert len(RULES) == 6
