"""Tests of effective rank, stable rank and uniformity against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.linalg import svdvals

from harness.metrics import MetricInputError, collapse

from .conftest import N_CASES, assert_close


def _random_table(case: int) -> np.ndarray:
    rng = np.random.default_rng([case, 70])
    n, d = int(rng.integers(2, 30)), int(rng.integers(1, 12))
    rank = int(rng.integers(1, min(n, d) + 1))
    return rng.standard_normal((n, rank)) @ rng.standard_normal((rank, d))


@pytest.mark.parametrize("case", range(N_CASES))
def test_effective_rank_is_exp_entropy_of_singular_values(case):
    table = _random_table(case)
    s = svdvals(table)
    p = s / s.sum()
    entropy = -sum(pi * np.log(pi) for pi in p if pi > 0)
    assert_close(collapse.effective_rank(table), float(np.exp(entropy)), atol=1e-9)


@pytest.mark.parametrize("case", range(N_CASES))
def test_stable_rank_is_frobenius_over_spectral(case):
    table = _random_table(case)
    expected = np.linalg.norm(table, "fro") ** 2 / np.linalg.norm(table, 2) ** 2
    assert_close(collapse.stable_rank(table), float(expected), atol=1e-9)


def test_rank_extremes():
    assert collapse.effective_rank(np.eye(5)) == pytest.approx(5.0)
    assert collapse.stable_rank(np.eye(5)) == pytest.approx(5.0)
    collapsed = np.outer(np.arange(1, 6), [1.0, 2.0, 3.0])
    assert collapse.effective_rank(collapsed) == pytest.approx(1.0)
    assert collapse.stable_rank(collapsed) == pytest.approx(1.0)


def _reference_uniformity(table, t=2.0):
    """The authors' code: ``torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()`` on normalised rows."""
    x = torch.nn.functional.normalize(torch.from_numpy(table), dim=1)
    return float(torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log())


@pytest.mark.parametrize("case", range(N_CASES))
def test_uniformity_matches_authors_code(case):
    table = _random_table(case) + 0.01
    assert_close(collapse.uniformity(table), _reference_uniformity(table), atol=1e-9)
    assert_close(collapse.uniformity(table, t=0.5), _reference_uniformity(table, 0.5), atol=1e-9)


def test_uniformity_exact_in_several_blocks(monkeypatch):
    monkeypatch.setattr(collapse, "ROWS_PER_BLOCK", 7)
    table = np.random.default_rng(71).standard_normal((40, 5))
    assert_close(collapse.uniformity(table), _reference_uniformity(table), atol=1e-9)


def test_uniformity_sampled_path_is_close_and_seeded():
    table = np.random.default_rng(72).standard_normal((300, 8))
    exact = collapse.uniformity(table)
    sampled = collapse.uniformity(table, max_pairs=20_000, seed=1)
    assert sampled == collapse.uniformity(table, max_pairs=20_000, seed=1)
    assert sampled != collapse.uniformity(table, max_pairs=20_000, seed=2)
    assert abs(sampled - exact) < 0.02


def test_uniformity_sampled_path_in_blocks_sums_the_same_pairs(monkeypatch):
    table = np.random.default_rng(73).standard_normal((200, 6))
    whole = collapse.uniformity(table, max_pairs=5_000, seed=3)
    monkeypatch.setattr(collapse, "PAIRS_PER_BLOCK", 333)  # blocks that do not divide the pairs
    assert collapse.uniformity(table, max_pairs=5_000, seed=3) == pytest.approx(whole, abs=1e-12)
    rng = np.random.default_rng(3)  # the same draws, summed by a slow loop
    first = rng.integers(0, 200, size=5_000)
    second = (first + rng.integers(1, 200, size=5_000)) % 200
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    terms = [np.exp(-2.0 * float(np.sum((unit[a] - unit[b]) ** 2))) for a, b in zip(first, second, strict=True)]
    assert collapse.uniformity(table, max_pairs=5_000, seed=3) == pytest.approx(np.log(np.mean(terms)), abs=1e-9)


def test_uniformity_of_antipodal_points():
    assert collapse.uniformity(np.array([[1.0, 0.0], [-3.0, 0.0]])) == pytest.approx(-8.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: collapse.effective_rank(np.zeros((3, 2))), r"all zeros \(shape \(3, 2\)\)", id="zeros"),
        pytest.param(lambda: collapse.stable_rank(np.ones(3)), r"shape \(n_samples, n_dims\)", id="1d"),
        pytest.param(
            lambda: collapse.uniformity(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])),
            r"all-zero row at index 1 \(2 in all\)",
            id="zero-row",
        ),
        pytest.param(lambda: collapse.uniformity(np.ones((1, 2))), r"at least 2 rows", id="one-row"),
        pytest.param(lambda: collapse.uniformity(np.eye(2), t=0), r"`t` of uniformity must be a number > 0", id="t"),
        pytest.param(lambda: collapse.uniformity(np.eye(2), max_pairs=0), r"`max_pairs`", id="pairs"),
        pytest.param(lambda: collapse.effective_rank(np.array([[np.inf]])), r"got inf", id="inf"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(MetricInputError, match=match):
        call()
