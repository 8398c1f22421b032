"""Threshold sweep: the table against per-threshold loops, the summary's anchor point and unreachable speed-ups."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harness.metrics import MetricInputError, curves
from harness.tracks.earlyexit import ExitCosts, ExitNet, confidence_exit, exit_flops, sweep_summary, sweep_table

SEED = 0


def _argmax(row):
    best = 0
    for c in range(1, len(row)):
        if row[c] > row[best]:
            best = c
    return best


@pytest.mark.parametrize("case", range(10))
def test_table_matches_a_loop_over_thresholds_and_samples(case):
    rng = np.random.default_rng([SEED, case])
    n_exits, n_samples = int(rng.integers(2, 6)), int(rng.integers(5, 40))
    logits = rng.integers(0, 4, size=(n_exits, n_samples, 3)).astype(float)
    labels = rng.integers(0, 3, n_samples)
    thresholds = np.array([0.0, 0.4, 0.6, 0.9, 1.0])
    layers = np.stack([confidence_exit(logits, threshold=t) for t in thresholds])
    depths = np.arange(1, n_exits + 1) * 2
    flops = ExitCosts(np.cumsum(rng.integers(1, 9, n_exits)).astype(float), float(n_exits * 4))
    bs1 = ExitCosts(rng.uniform(1, 2, n_exits).cumsum(), 3.0)
    table = sweep_table(logits, labels, layers, thresholds=thresholds, exit_depths=depths, flops=flops,
                        seconds={"bs1": bs1})
    assert list(table.columns) == ["threshold", "accuracy", "mean_exit_layer", "flops_per_image", "speedup_flops",
                                   "seconds_per_image_bs1", "speedup_bs1"]
    for row, taken in zip(table.itertuples(), layers, strict=True):
        hits = sum(_argmax(logits[taken[i], i]) == labels[i] for i in range(n_samples))
        assert row.accuracy == pytest.approx(hits / n_samples, abs=1e-12)
        assert row.mean_exit_layer == pytest.approx(sum(depths[k] for k in taken) / n_samples, abs=1e-12)
        paid = sum(flops.exit_costs[k] for k in taken) / n_samples
        assert row.flops_per_image == pytest.approx(paid, rel=1e-12)
        assert row.speedup_flops == pytest.approx(flops.full_cost / paid, rel=1e-12)
        seconds = sum(bs1.exit_costs[k] for k in taken)  # total time of running every sample up to its exit
        assert row.speedup_bs1 == pytest.approx(n_samples * bs1.full_cost / seconds, rel=1e-12)
    assert (table["threshold"] == thresholds).all()


def test_summary_joins_the_full_model_and_reads_the_curve():
    summary = sweep_summary([1.25, 2.0, 3.0], [0.875, 0.75, 0.5], full_accuracy=0.875)
    x, y = [1.25, 2.0, 3.0, 1.0], [0.875, 0.75, 0.5, 0.875]
    assert summary["auc_accuracy_speedup"] == curves.area_under_speedup_curve(x, y)
    assert summary["accuracy_at_1p5x"] == pytest.approx(0.875 - 0.125 * 0.25 / 0.75)
    assert summary["accuracy_at_2x"] == 0.75
    assert summary["speedup_at_full_minus_1pt"] == pytest.approx(1.25 + 0.08 * 0.75)
    assert summary["max_speedup"] == 3.0
    assert all(isinstance(v, float) for v in summary.values())


def test_a_curve_that_stops_short_of_2x_scores_zero_there():
    summary = sweep_summary([0.9, 1.4, 1.8], [0.8, 0.78, 0.7], full_accuracy=0.8)
    assert summary["accuracy_at_2x"] == 0.0 and summary["max_speedup"] == 1.8
    assert summary["accuracy_at_1p5x"] == pytest.approx(0.78 - 0.08 * 0.1 / 0.4)
    # the full model (1x, 0.8) is on the curve, so its accuracy minus one point is always reached
    assert summary["speedup_at_full_minus_1pt"] == pytest.approx(1.0 + 0.4 * 0.01 / 0.02)


def test_methods_whose_every_point_is_slower_still_reach_the_full_model():
    summary = sweep_summary([0.8, 0.9], [0.5, 0.6], full_accuracy=0.9)
    assert summary["speedup_at_full_minus_1pt"] == 1.0
    assert summary["accuracy_at_1p5x"] == 0.0 and summary["accuracy_at_2x"] == 0.0
    flat = sweep_summary([1.0, 1.0], [0.6, 0.7], full_accuracy=0.9)
    assert flat["auc_accuracy_speedup"] == 0.9  # no width: the best accuracy at the one speed-up


def test_flops_of_an_exit_net_feed_the_table():
    torch.manual_seed(SEED)
    net = ExitNet(nn.Flatten(), [nn.Linear(12, 8), nn.Linear(8, 8)], [nn.Linear(8, 2), nn.Linear(8, 2)])
    flops = exit_flops(net, torch.zeros(1, 3, 2, 2))
    logits = np.array([[[3.0, 0.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 3.0]]])
    layers = np.stack([confidence_exit(logits, threshold=t) for t in (0.4, 0.99)])  # all leave first, all last
    table = sweep_table(logits, [0, 1], layers, thresholds=[0.4, 0.99], exit_depths=[1, 2],
                        flops=ExitCosts(flops.to_exit, flops.full), seconds={})
    assert table["accuracy"].tolist() == [0.5, 1.0]
    assert table["flops_per_image"].tolist() == [flops.to_exit[0], flops.to_exit[1]]
    assert table["mean_exit_layer"].tolist() == [1.0, 2.0]
    assert table["speedup_flops"].iloc[1] < 1.0  # every sample pays both heads: slower than the plain backbone


def test_bad_sweep_input():
    logits = np.zeros((2, 3, 2))
    costs = ExitCosts(np.array([1.0, 2.0]), 2.0)
    with pytest.raises(MetricInputError, match=r"sweep_table disagree: 3 thresholds but 2 rows of `exit_layers`"):
        sweep_table(logits, [0, 0, 0], np.zeros((2, 3), int), thresholds=[1, 2, 3], exit_depths=[1, 2], flops=costs,
                    seconds={})
    with pytest.raises(MetricInputError, match=r"`exit_layers` of sweep_table must have shape \(n_thresholds, "):
        sweep_table(logits, [0, 0, 0], np.zeros(3, int), thresholds=[1], exit_depths=[1, 2], flops=costs, seconds={})
    with pytest.raises(MetricInputError, match=r"`exit_layers` of early_exit_accuracy must hold exit indices in "):
        sweep_table(logits, [0, 0, 0], np.full((1, 3), 2), thresholds=[1], exit_depths=[1, 2], flops=costs, seconds={})
    with pytest.raises(MetricInputError, match=r"`speedups` of area_under_speedup_curve must be > 0"):
        sweep_summary([0.0, 2.0], [0.5, 0.4], full_accuracy=0.6)


def test_a_fixed_speedup_range_is_shared_by_every_curve():
    short = sweep_summary([1.2], [0.9], full_accuracy=0.9, speedup_range=(1.0, 3.0))
    long = sweep_summary([1.2, 2.5], [0.9, 0.6], full_accuracy=0.9, speedup_range=(1.0, 3.0))
    assert short["auc_accuracy_speedup"] == pytest.approx(0.9 * 0.2 / 2.0)  # 0 past 1.2x
    assert long["auc_accuracy_speedup"] == pytest.approx((0.9 * 0.2 + (0.9 + 0.6) / 2 * 1.3) / 2.0)
    fast = sweep_summary([1.2, 2.5], [0.9, 0.6], full_accuracy=0.9, speedup_range=(1.0, 3.0), validate=False)
    assert fast == long
