"""The track's evaluate against an independent slow loop on hand-built predictions; validation; resampling."""

from __future__ import annotations

import numpy as np
import pytest

from harness.api import Predictions
from harness.errors import InvalidPredictionError
from harness.tracks.earlyexit import EarlyExitTrack, EarlyExitTruth, sweep_exits, threshold_grid
from harness.tracks.earlyexit.grids import rule_code
from harness.tracks.earlyexit.scoring import metric_names

SEED = 0
TRACK = EarlyExitTrack()


def _predictions(rule: str, logits: np.ndarray, *, depths, flops, seconds, scores=None, patience: int = 2):
    n_exits, _, n_classes = logits.shape
    thresholds = threshold_grid(rule, n_exits=n_exits, n_classes=n_classes)
    arrays = {
        "exit_logits": logits.astype(np.float32),
        "exit_layers": sweep_exits(rule, logits.astype(np.float32), thresholds, patience=patience,
                                   exit_scores=None if scores is None else scores.astype(np.float32)),
        "thresholds": thresholds, "rule": np.array([rule_code(rule)]), "patience": np.array([patience]),
        "exit_depths": np.asarray(depths), "flops_exit": np.asarray(flops[0], float),
        "flops_full": np.array([flops[1]]),
        "timing_batch_sizes": np.array([1, 8]),
    }
    for name, (costs, full) in seconds.items():
        arrays[f"seconds_exit_{name}"] = np.asarray(costs, float)
        arrays[f"seconds_full_{name}"] = np.array([full], float)
    if scores is not None:
        arrays["exit_scores"] = scores.astype(np.float32)
    return Predictions.of(**arrays)


def _slow_curve(logits, labels, layers, costs, full):
    """(speed-ups, accuracies) of every threshold, by loops over the samples."""
    speedups, accuracies = [], []
    for taken in layers:
        hits, total = 0, 0.0
        for i, k in enumerate(taken):
            row = logits[k, i]
            best = max(range(len(row)), key=lambda c: (row[c], -c))  # argmax, ties to the lowest class
            hits += best == labels[i]
            total += costs[k]
        speedups.append(len(taken) * full / total)
        accuracies.append(hits / len(taken))
    return speedups, accuracies


def _slow_value_at(points, x):
    """Piecewise-linear curve through points (best accuracy per speed-up) at x; 0 beyond the last point."""
    best = {}
    for s, a in points:
        best[s] = max(best.get(s, -1.0), a)
    xs = sorted(best)
    if x > xs[-1]:
        return 0.0
    for a, b in zip(xs, xs[1:], strict=False):
        if a <= x <= b:
            return best[a] + (x - a) / (b - a) * (best[b] - best[a]) if b > a else best[a]
    return best[xs[-1]]


def _slow_summary(speedups, accuracies, full_accuracy, high):
    points = [*zip(speedups, accuracies, strict=True), (1.0, full_accuracy)]
    fastest = max(s for s, _ in points)
    # a fine grid with every vertex, and the drop to 0 just past the fastest point: the trapezoids are exact
    knots = [s for s, _ in points if 1.0 < s < high] + ([fastest * (1 + 1e-13)] if fastest < high else [])
    grid = np.unique(np.r_[np.linspace(1.0, high, 2001), knots])
    values = np.array([_slow_value_at(points, x) for x in grid])
    auc = float(np.trapezoid(values, grid) / (high - 1.0))
    at = {p: (_slow_value_at(points, p) if p <= fastest else 0.0) for p in (1.5, 2.0)}
    target = full_accuracy - 0.01
    dense = np.linspace(min(s for s, _ in points), fastest, 20001)
    kept = [x for x, v in zip(dense, (_slow_value_at(points, x) for x in dense), strict=True) if v >= target - 1e-12]
    return auc, at[1.5], at[2.0], max(kept), fastest


@pytest.mark.parametrize("rule", ["confidence", "entropy", "patience", "patience_confidence", "static"])
def test_evaluate_matches_a_slow_loop_on_a_hand_built_case(rule):
    rng = np.random.default_rng([SEED, 11])
    n_exits, n_items, n_classes = 3, 40, 4
    labels = rng.integers(0, n_classes, n_items)
    logits = rng.normal(size=(n_exits, n_items, n_classes)) * np.array([0.5, 1.5, 3.0])[:, None, None]
    boost = np.array([0.3, 1.0, 2.0])[:, None]  # deeper exits lean more towards the label
    logits[np.arange(n_exits)[:, None], np.arange(n_items)[None, :], labels[None, :]] += boost
    flops = ([30.0, 62.0, 95.0], 90.0)
    seconds = {"bs1": ([1.1, 2.0, 3.2], 2.97), "batch": ([0.9, 2.1, 3.1], 3.013)}  # no mixture costs exactly full
    predictions = _predictions(rule, logits, depths=[2, 4, 6], flops=flops, seconds=seconds)
    truth = EarlyExitTruth(labels, n_classes, 6, 2.5)
    TRACK.validate(predictions, truth)
    got = TRACK.evaluate(predictions, truth)
    assert sorted(got) == sorted(metric_names())
    layers = predictions["exit_layers"]
    full_accuracy = float(np.mean(np.argmax(logits[-1], axis=1) == labels))
    assert got["final_accuracy"] == pytest.approx(full_accuracy)
    for suffix, (costs, full) in {"": seconds["bs1"], "_flops": flops, "_batch": seconds["batch"]}.items():
        speedups, accuracies = _slow_curve(logits, labels, layers, costs, full)
        auc, at_1p5, at_2, keep, fastest = _slow_summary(speedups, accuracies, full_accuracy, 2.5)
        assert got[f"auc_accuracy_speedup{suffix}"] == pytest.approx(auc, abs=1e-9), suffix
        assert got[f"accuracy_at_1p5x{suffix}"] == pytest.approx(at_1p5, abs=1e-9), suffix
        assert got[f"accuracy_at_2x{suffix}"] == pytest.approx(at_2, abs=1e-9), suffix
        assert got[f"speedup_at_full_minus_1pt{suffix}"] == pytest.approx(keep, abs=2e-4), suffix  # grid step
        assert got[f"max_speedup{suffix}"] == pytest.approx(fastest), suffix


def test_a_hand_built_two_exit_case_by_hand():
    # two items, two exits; at threshold 0 both leave first (one right), at 1.0 both run the full model (both right)
    logits = np.array([[[2.0, 0.0], [2.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]])
    predictions = _predictions("confidence", logits, depths=[1, 2], flops=([1.0, 2.0], 2.0),
                               seconds={"bs1": ([1.0, 2.0], 2.0), "batch": ([1.0, 2.0], 2.0)})
    got = TRACK.evaluate(predictions, EarlyExitTruth(np.array([0, 1]), 2, 2, 3.0))
    # points: (2x, 0.5) from the thresholds at which both leave first, (1x, 1.0); beyond 2x: 0
    assert got["max_speedup"] == 2.0 and got["accuracy_at_2x"] == 0.5 and got["accuracy_at_1p5x"] == 0.75
    assert got["auc_accuracy_speedup"] == pytest.approx(0.75 / 2)  # mean over [1, 3]: area 0.75 over [1, 2]
    assert got["speedup_at_full_minus_1pt"] == pytest.approx(1.0 + 0.01 / 0.5)


def test_resampling_with_unit_weights_is_evaluate_and_duplicates_count_twice():
    rng = np.random.default_rng([SEED, 12])
    logits = rng.normal(size=(2, 10, 3))
    labels = rng.integers(0, 3, 10)
    predictions = _predictions("entropy", logits, depths=[3, 6], flops=([5.0, 9.0], 8.0),
                               seconds={"bs1": ([1.0, 2.2], 2.0), "batch": ([1.0, 2.1], 2.0)})
    truth = EarlyExitTruth(labels, 3, 6, 3.0)
    items = TRACK.item_results(predictions, truth)
    assert all(len(v) == 10 for v in items.values())
    weights = np.vstack([np.ones(10), np.r_[np.full(5, 2.0), np.zeros(5)]])
    resampled = TRACK.resample_metrics(items, weights)
    direct = TRACK.evaluate(predictions, truth)
    for name, value in direct.items():
        assert resampled[name][0] == pytest.approx(value, abs=1e-12), name
    half = TRACK.evaluate(Predictions.of(**{**predictions.arrays, "exit_logits": logits[:, :5].astype(np.float32),
                                            "exit_layers": predictions["exit_layers"][:, :5]}),
                          EarlyExitTruth(labels[:5], 3, 6, 3.0))
    for name, value in half.items():
        assert resampled[name][1] == pytest.approx(value, abs=1e-12), name


def _valid():
    logits = np.array([[[2.0, 0.0], [0.0, 0.1]], [[2.0, 0.0], [0.0, 2.0]]])
    return _predictions("confidence", logits, depths=[1, 2], flops=([1.0, 2.0], 2.0),
                        seconds={"bs1": ([1.0, 2.0], 2.0), "batch": ([1.0, 2.0], 2.0)}), EarlyExitTruth(
        np.array([0, 1]), 2, 2, 3.0)


@pytest.mark.parametrize(("change", "match"), [
    (lambda a: a.update(exit_layers=np.zeros_like(a["exit_layers"])),
     r"disagree with rule 'confidence' applied to the exit logits: at threshold 0.6, item 1 took exit 0 where"),
    (lambda a: a.update(thresholds=a["thresholds"] * 0.5), r"must be the track's grid of rule 'confidence'"),
    (lambda a: a.update(exit_depths=np.array([2, 2])), r"must increase from >= 1 to the backbone's depth 2"),
    (lambda a: a.update(rule=np.array([9])), r"must be a rule code in \[0, 5\]"),
    (lambda a: a.update(seconds_full_bs1=np.array([0.0])), r"and \['seconds_full_bs1'\] must be > 0"),
    (lambda a: a.pop("flops_exit"), r"lack array 'flops_exit'"),
])
def test_validation_names_what_is_wrong(change, match):
    predictions, truth = _valid()
    TRACK.validate(predictions, truth)
    arrays = dict(predictions.arrays)
    change(arrays)
    with pytest.raises(InvalidPredictionError, match=match):
        TRACK.validate(Predictions(arrays), truth)


def test_policy_exits_are_checked_against_the_returned_scores():
    logits = np.zeros((2, 3, 2))
    scores = np.array([[0.2, 0.95, 0.6], [1.0, 1.0, 1.0]])
    predictions = _predictions("policy", logits, depths=[1, 2], flops=([1.0, 2.0], 2.0),
                               seconds={"bs1": ([1.0, 2.0], 2.0), "batch": ([1.0, 2.0], 2.0)}, scores=scores)
    truth = EarlyExitTruth(np.array([0, 0, 1]), 2, 2, 3.0)
    TRACK.validate(predictions, truth)
    at_half = list(predictions["thresholds"]).index(0.5)
    assert predictions["exit_layers"][at_half].tolist() == [1, 0, 0]
    arrays = dict(predictions.arrays)
    arrays["exit_scores"] = np.ones_like(scores, dtype=np.float32) * 0.1
    with pytest.raises(InvalidPredictionError, match=r"exit logits and scores"):
        TRACK.validate(Predictions(arrays), truth)
