"""Timing: median of interleaved rounds (checked on a fake clock), fixed threads, per-image prefix times."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from harness.tracks.earlyexit import ExitNet, exit_seconds, median_seconds

SEED = 0


class _FakeClock:
    """Nanoseconds that only move when a timed callable says how long it took."""

    def __init__(self) -> None:
        self.now = 0
        self.calls: list[int] = []

    def __call__(self) -> int:
        return self.now

    def task(self, index: int, costs: list[int]):
        def run() -> None:
            self.calls.append(index)
            self.now += costs[sum(1 for c in self.calls if c == index) - 1]

        return run


def test_median_of_interleaved_rounds_on_a_fake_clock():
    clock = _FakeClock()
    # per call of each task: 2 warm-up calls, then 5 timed rounds
    costs = [[100, 100, 5, 1, 9, 3, 7], [50, 50, 20, 20, 20, 20, 1000]]
    fns = [clock.task(i, c) for i, c in enumerate(costs)]
    seconds = median_seconds(fns, n_warmup=2, n_repeats=5, clock=clock)
    np.testing.assert_allclose(seconds, [5e-9, 20e-9])
    assert clock.calls[:4] == [0, 1, 0, 1]  # warm-up in order
    assert clock.calls[4:] == [0, 1, 1, 0, 0, 1, 1, 0, 0, 1]  # each round starts one further


def test_threads_are_fixed_during_the_measurement_and_restored():
    before = torch.get_num_threads()
    seen = []
    median_seconds([lambda: seen.append(torch.get_num_threads())], n_warmup=0, n_repeats=2, n_threads=1)
    assert seen == [1, 1] and torch.get_num_threads() == before


def _net(dim: int = 64) -> ExitNet:
    torch.manual_seed(SEED)
    net = ExitNet(nn.Flatten(), [nn.Linear(12 if k == 0 else dim, dim) for k in range(4)],
                  [nn.Linear(dim, 3) for _ in range(4)])
    for module in net.modules():
        module.eval()
    return net


def test_exit_seconds_shapes_and_batching():
    result = exit_seconds(_net(), torch.randn(3, 3, 2, 2), batch_size=5, n_warmup=1, n_repeats=3)
    assert result.to_exit.shape == (4,) and result.single_exit.shape == (4,)
    assert (result.to_exit > 0).all() and (result.single_exit > 0).all() and result.full > 0
    assert (result.batch_size, result.n_threads, result.device) == (5, 1, "cpu")


def test_deeper_prefixes_take_longer():
    net = ExitNet(nn.Flatten(), [nn.Linear(12, 512)] + [nn.Sequential(*[nn.Linear(512, 512)] * 6)] * 3,
                  [nn.Linear(512, 3)] * 4)
    for module in net.modules():
        module.eval()
    result = exit_seconds(net, torch.randn(8, 3, 2, 2), batch_size=8, n_warmup=2, n_repeats=7)
    # the last prefix runs 18 of the 512 x 512 layers, the first none: far more than timing noise
    assert result.to_exit[-1] > 3 * result.to_exit[0]
    assert result.full > 3 * result.single_exit[0]


def test_training_mode_and_bad_counts_are_refused():
    net = _net()
    net.heads[2].train()
    with pytest.raises(ValueError, match=r"Linear of the ExitNet is in training mode; call \.eval\(\)"):
        exit_seconds(net, torch.zeros(1, 3, 2, 2), batch_size=1)
    with pytest.raises(ValueError, match=r"batch_size of the timing must be an int >= 1; got 0"):
        exit_seconds(_net(), torch.zeros(1, 3, 2, 2), batch_size=0)
    with pytest.raises(ValueError, match=r"n_repeats of the timing must be an int >= 1; got 0"):
        median_seconds([lambda: None], n_repeats=0)
    with pytest.raises(ValueError, match=r"fns of median_seconds must hold at least one callable"):
        median_seconds([])
    with pytest.raises(ValueError, match=r"images of exit_seconds must hold at least one image"):
        exit_seconds(_net(), torch.zeros(0, 3, 2, 2), batch_size=1)


def test_one_kind_of_prefix_can_be_timed_alone():
    only = exit_seconds(_net(), torch.randn(2, 3, 2, 2), batch_size=2, n_warmup=0, n_repeats=2, paths=("single_exit",))
    assert np.isnan(only.to_exit).all() and (only.single_exit > 0).all() and only.full > 0
    with pytest.raises(ValueError, match=r"paths of exit_seconds must be a non-empty subset of \('to_exit', "):
        exit_seconds(_net(), torch.randn(2, 3, 2, 2), batch_size=2, paths=("all",))
