"""Intervals, rank tests and paired differences against scipy, scikit-posthocs and slow loops."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from harness import stats


def test_t_interval_over_seeds_equals_scipy():
    values = [0.71, 0.69, 0.74]
    low, high, how = stats.interval(values)
    ref = scipy_stats.t.interval(0.95, 2, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert how == "t" and (low, high) == pytest.approx(ref)
    assert stats.interval([0.7])[2] == "none" and math.isnan(stats.interval([0.7])[0])


def test_two_level_bootstrap_against_a_slow_loop():
    rng = np.random.default_rng(0)
    replicates = rng.normal(0.7, 0.02, size=(3, 400)) + np.array([[0.0], [0.05], [-0.05]])
    low, high, how = stats.interval(replicates[:, 0], replicates, seed=5)
    picks = np.random.default_rng(5).integers(0, 3, size=(400, 3))
    slow = [np.mean([replicates[s, b] for s in picks[b]]) for b in range(400)]
    assert how == "bootstrap"
    assert (low, high) == pytest.approx(tuple(np.quantile(slow, [0.025, 0.975])))
    # the seed spread widens the interval beyond the item spread of one seed
    one = stats.interval(replicates[:1, 0], replicates[:1])
    assert high - low > one[1] - one[0]


def test_friedman_and_nemenyi_equal_scipy_and_scikit_posthocs():
    import scikit_posthocs as sp

    rng = np.random.default_rng(1)
    scores = pd.DataFrame(rng.integers(0, 5, size=(30, 4)) / 5 + np.array([0.0, 0.1, 0.3, 0.3]),
                          columns=["a", "b", "c", "d"])  # ties within blocks
    test = stats.rank_test(scores, higher_is_better=True)
    ranks = scipy_stats.rankdata(-scores.to_numpy(), axis=1)
    chi2, p = scipy_stats.friedmanchisquare(*ranks.T)
    assert test.statistic == pytest.approx(chi2) and test.p_value == pytest.approx(p)
    assert dict(zip(test.methods, test.ranks, strict=True)) == pytest.approx(dict(zip("abcd", ranks.mean(0),
                                                                                     strict=True)))
    ref = sp.posthoc_nemenyi_friedman(-scores.to_numpy())
    ref.index = ref.columns = list("abcd")
    assert np.allclose(test.pairwise.loc[list("abcd"), list("abcd")].to_numpy(), ref.to_numpy())
    q = scipy_stats.studentized_range.ppf(0.95, 4, np.inf) / math.sqrt(2)
    assert test.critical_difference == pytest.approx(q * math.sqrt(4 * 5 / (6 * 30)))
    assert test.methods[0] in ("c", "d") and "a" not in test.tied_with_best
    assert "Friedman test over 30 blocks" in test.describe()


def test_failures_rank_last_and_lower_is_better():
    scores = pd.DataFrame({"a": [0.1, 0.2, 0.1], "b": [0.3, 0.4, 0.5], "c": [np.nan, np.nan, 0.0]})
    test = stats.rank_test(scores, higher_is_better=False)
    assert test.methods[0] == "a" and dict(zip(test.methods, test.ranks, strict=True))["c"] == pytest.approx(7 / 3)


def test_no_test_on_too_few_blocks_and_wilcoxon_for_two_methods():
    one_block = stats.rank_test(pd.DataFrame({"a": [0.5], "b": [0.4], "c": [0.3]}))
    assert one_block.test == "none" and one_block.tied_with_best == ["a", "b", "c"]
    rng = np.random.default_rng(2)
    a = rng.random(12)
    b = a + rng.normal(0, 0.01, 12)
    pair = stats.rank_test(pd.DataFrame({"a": a + 0.3, "b": b}))
    ref = scipy_stats.wilcoxon((a + 0.3) - b)
    assert pair.test == "wilcoxon" and pair.p_value == pytest.approx(ref.pvalue) and pair.tied_with_best == ["a"]


def test_paired_difference_detects_a_shift_the_unpaired_intervals_hide():
    rng = np.random.default_rng(4)
    shared = rng.normal(0.7, 0.05, size=(2, 500))  # item noise both methods share
    a, b = shared + 0.01, shared
    result = stats.paired_difference(a, b)
    assert result["difference"] == pytest.approx(0.01) and result["low"] > 0 and result["p"] == pytest.approx(1 / 500)
    low_a, high_a, _ = stats.interval(a[:, 0], a)
    low_b, high_b, _ = stats.interval(b[:, 0], b)
    assert low_a < high_b  # the two cells' intervals overlap
    same = stats.paired_difference(b, b)
    assert same["p"] == 1.0


def test_holm_equals_statsmodels_and_a_loop():
    p = [0.01, 0.04, 0.03, 0.5]
    order = np.argsort(p)
    slow = np.empty(4)
    running = 0.0
    for i, j in enumerate(order):
        running = max(running, min(1.0, (4 - i) * p[j]))
        slow[j] = running
    assert np.allclose(stats.holm(p), slow)


def test_cd_diagram_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.random((10, 3)), columns=["x", "y", "z"])
    path = stats.cd_diagram(stats.rank_test(scores), tmp_path / "cd.png", title="t", kinds={"x": "method"})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert stats.cd_diagram(stats.rank_test(scores.iloc[:1]), tmp_path / "none.png", title="t") is None
