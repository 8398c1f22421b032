"""Intervals, rank tests and critical-difference diagrams of leaderboards (over scipy and scikit-posthocs).

- :func:`bootstrap_weights`: seeded bootstrap resamples of a subset's test items, as count weights, optionally
  stratified (each class resampled within itself, so an AUROC resample keeps both classes). The weights depend
  only on the (dataset, subset, seed) and the items' strata, never on the method: every method of a table is
  scored on the same resamples, which makes differences paired.
- :func:`interval`: the 95 % interval of a cell. With per-item resamples: a two-level bootstrap, each replicate
  drawing the seeds with replacement and averaging their item-resampled metric (so the interval holds both the
  spread over test items and the spread over seeds); without (a metric that is not a function of per-item
  results): Student's t over the seeds, or none for a single seed.
- :func:`rank_test`: average ranks over blocks (every subset and seed), the Friedman test
  (:func:`scipy.stats.friedmanchisquare`) and the Nemenyi post-hoc test
  (:func:`scikit_posthocs.posthoc_nemenyi_friedman`) with its critical difference; two methods: the Wilcoxon
  signed-rank test (:func:`scipy.stats.wilcoxon`).
- :func:`paired_difference`: paired bootstrap of the difference of two methods on the same resamples, with a
  two-sided p-value; :func:`holm` adjusts a family of them (statsmodels' ``multipletests``).
- :func:`cd_diagram`: the critical-difference diagram as a PNG (scikit-posthocs' drawing).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "ALPHA",
    "N_REPLICATES",
    "RankTest",
    "bootstrap_weights",
    "cd_diagram",
    "holm",
    "interval",
    "paired_difference",
    "rank_test",
]

#: Significance level of every interval and test of a leaderboard.
ALPHA = 0.05
#: Bootstrap replicates per cell.
N_REPLICATES = 1000


def bootstrap_weights(n_items: int, n_replicates: int, seed: int, strata: Any = None) -> np.ndarray:
    """Seeded bootstrap resamples of ``n_items`` items as counts, stratified when ``strata`` is given.

    Args:
        n_items: Items of the subset.
        n_replicates: Resamples drawn.
        seed: Seed of the draw.
        strata: Optional array of shape (n_items,): items of one value are resampled among themselves (each
            stratum keeps its size).

    Returns:
        float64 array of shape (n_replicates, n_items); every row sums to ``n_items``.

    Example:
        >>> w = bootstrap_weights(4, 3, seed=0, strata=[0, 0, 1, 1])
        >>> w[:, :2].sum(axis=1).tolist(), w.shape
        ([2.0, 2.0, 2.0], (3, 4))
    """
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_replicates, n_items))
    groups = [np.arange(n_items)] if strata is None else [
        np.flatnonzero(np.asarray(strata) == value) for value in np.unique(np.asarray(strata))
    ]
    for members in groups:
        if len(members):
            weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)),
                                                  size=n_replicates)
    return weights


def interval(values: Sequence[float], replicates: np.ndarray | None = None, *, alpha: float = ALPHA,
             seed: int = 0) -> tuple[float, float, str]:
    """The ``1 - alpha`` interval of the mean over seeds of one cell.

    Args:
        values: The metric of each seed (length S).
        replicates: Optional (S, B) array: the metric of each seed on B item resamples (the same B resamples
            for every method, see :func:`bootstrap_weights`).
        alpha: Two-sided level.
        seed: Seed of the seed-level resampling.

    Returns:
        (low, high, how): ``how`` is ``"bootstrap"`` (items and seeds resampled), ``"t"`` (Student's t over
        seeds, no per-item results) or ``"none"`` (one seed and no per-item results: NaN bounds).
    """
    values = np.asarray(values, dtype=np.float64)
    n_seeds = len(values)
    if replicates is not None:
        distribution = _seed_resampled(np.asarray(replicates, dtype=np.float64), seed)
        distribution = distribution[np.isfinite(distribution)]
        if len(distribution):
            low, high = np.quantile(distribution, [alpha / 2, 1 - alpha / 2])
            return float(low), float(high), "bootstrap"
    if n_seeds >= 2:
        from scipy import stats

        half = stats.t.ppf(1 - alpha / 2, n_seeds - 1) * values.std(ddof=1) / math.sqrt(n_seeds)
        return float(values.mean() - half), float(values.mean() + half), "t"
    return math.nan, math.nan, "none"


def _seed_resampled(replicates: np.ndarray, seed: int) -> np.ndarray:
    """Per replicate b: the mean of ``replicates[s, b]`` over S seeds drawn with replacement."""
    n_seeds, n_replicates = replicates.shape
    if n_seeds == 1:
        return replicates[0]
    picks = np.random.default_rng(seed).integers(0, n_seeds, size=(n_replicates, n_seeds))
    return replicates[picks, np.arange(n_replicates)[:, None]].mean(axis=1)


def paired_difference(a: np.ndarray, b: np.ndarray, *, alpha: float = ALPHA, seed: int = 0) -> dict[str, float]:
    """Paired bootstrap of ``mean(a) - mean(b)`` where both were scored on the same resamples.

    Args:
        a: (S, B) replicates of method A (S seeds, B item resamples), as for :func:`interval`.
        b: (S, B) replicates of method B on the same seeds and resamples.
        alpha: Two-sided level of the interval.
        seed: Seed of the seed-level resampling (the same draw serves both methods).

    Returns:
        ``difference`` (mean of the replicate differences), ``low``, ``high`` and ``p`` (two-sided: twice the
        smaller share of replicate differences on either side of zero, at least 1/B).
    """
    diff = _seed_resampled(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), seed)
    diff = diff[np.isfinite(diff)]
    low, high = np.quantile(diff, [alpha / 2, 1 - alpha / 2])
    p = min(1.0, 2 * min(np.mean(diff <= 0), np.mean(diff >= 0)))
    return {"difference": float(diff.mean()), "low": float(low), "high": float(high),
            "p": max(p, 1 / len(diff))}


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (statsmodels' ``multipletests``)."""
    if not len(p_values):
        return np.zeros(0)
    from statsmodels.stats.multitest import multipletests

    return multipletests(np.asarray(p_values, dtype=np.float64), method="holm")[1]


@dataclass
class RankTest:
    """Average ranks and the omnibus and post-hoc tests of one table.

    Attributes:
        methods: Method names, best average rank first.
        ranks: Average rank of each method (1 = best), in the order of :attr:`methods`.
        n_blocks: Blocks ranked (subset x seed pairs).
        test: ``"friedman+nemenyi"``, ``"wilcoxon"`` or ``"none"`` (fewer than two blocks or methods).
        statistic: Friedman's chi-square (or Wilcoxon's W); NaN when untested.
        p_value: p of the omnibus test; NaN when untested.
        pairwise: DataFrame of post-hoc p-values (methods x methods); ``None`` when untested.
        critical_difference: Nemenyi's critical difference of average ranks at :attr:`alpha`; NaN otherwise.
        alpha: Level of the tests.
        tied_with_best: Methods not significantly different from the best (the best included).
    """

    methods: list[str]
    ranks: list[float]
    n_blocks: int
    test: str
    statistic: float = math.nan
    p_value: float = math.nan
    pairwise: Any = None
    critical_difference: float = math.nan
    alpha: float = ALPHA
    tied_with_best: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One sentence: the test, its sample sizes, its result and what the marks mean."""
        k = len(self.methods)
        if self.test == "none":
            return (f"no rank test: {self.n_blocks} block(s) of {k} method(s); it needs at least 2 of each "
                    "(more seeds or subsets)")
        if self.test == "wilcoxon":
            return (f"Wilcoxon signed-rank test over {self.n_blocks} blocks (subset x seed), 2 methods: "
                    f"W = {self.statistic:.3g}, p = {self.p_value:.3g} (alpha {self.alpha:g})")
        return (
            f"Friedman test over {self.n_blocks} blocks (subset x seed) of {k} methods: chi2 = {self.statistic:.3g}, "
            f"p = {self.p_value:.3g}; Nemenyi post-hoc test, critical difference {self.critical_difference:.2f} "
            f"ranks (alpha {self.alpha:g})"
        )


def rank_test(scores: Any, *, higher_is_better: bool = True, alpha: float = ALPHA) -> RankTest:
    """Rank methods over blocks and test whether they differ.

    Args:
        scores: pandas DataFrame, one row per block (subset x seed), one column per method; NaN marks a failed
            job, which ranks below every method that ran (failures tie among themselves).
        higher_is_better: Direction of the metric.
        alpha: Level of the tests.

    Returns:
        A :class:`RankTest`. When the omnibus test does not reject, every method is tied with the best.
    """
    import pandas as pd
    from scipy import stats

    values = scores.to_numpy(dtype=np.float64)
    oriented = -values if higher_is_better else values
    oriented = np.where(np.isnan(oriented), np.inf, oriented)  # a failure is worse than any result
    n_blocks, k = oriented.shape
    ranked = stats.rankdata(oriented, axis=1) if n_blocks else np.zeros((0, k))  # failures included
    ranks = ranked.mean(axis=0) if n_blocks else np.zeros(k)
    order = np.argsort(ranks, kind="stable")
    methods = [str(scores.columns[i]) for i in order]
    result = RankTest(methods, [float(ranks[i]) for i in order], n_blocks, "none", alpha=alpha)
    if n_blocks < 2 or k < 2:
        result.tied_with_best = list(methods)
        return result
    if k == 2:
        differences = oriented[:, 0] - oriented[:, 1]
        finite = np.isfinite(differences)
        if not finite.any() or np.all(differences[finite] == 0):
            result.test, result.p_value, result.statistic = "wilcoxon", 1.0, 0.0
        else:
            test = stats.wilcoxon(np.where(finite, differences, 0.0))
            result.test, result.statistic, result.p_value = "wilcoxon", float(test.statistic), float(test.pvalue)
        result.tied_with_best = methods if result.p_value >= alpha else methods[:1]
        return result
    import scikit_posthocs as sp

    if np.all(ranked == ranked[:, :1]):  # every block ties every method: nothing to tell apart
        statistic, p_value = 0.0, 1.0
    else:
        statistic, p_value = stats.friedmanchisquare(*ranked.T)
    pairwise = sp.posthoc_nemenyi_friedman(ranked)
    pairwise.index = pairwise.columns = [str(c) for c in scores.columns]
    q_alpha = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    result.test = "friedman+nemenyi"
    result.statistic, result.p_value = float(statistic), float(p_value)
    result.pairwise = pd.DataFrame(pairwise).loc[methods, methods]
    result.critical_difference = float(q_alpha * math.sqrt(k * (k + 1) / (6 * n_blocks)))
    best = methods[0]
    if not (p_value < alpha):
        result.tied_with_best = list(methods)
    else:
        result.tied_with_best = [m for m in methods if m == best or result.pairwise.loc[best, m] >= alpha]
    return result


def cd_diagram(test: RankTest, path: Path | BinaryIO, *, title: str,
               kinds: Mapping[str, str] | None = None) -> Path | BinaryIO | None:
    """Draw the critical-difference diagram of ``test`` to ``path`` (a PNG file or a binary buffer).

    Returns ``path``, or None when there is no post-hoc test to draw.

    Methods joined by a bar are not significantly different under the post-hoc test (scikit-posthocs'
    ``critical_difference_diagram``); the title states the test, alpha and the number of blocks.
    """
    if test.pairwise is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import scikit_posthocs as sp

    ranks = pd.Series(test.ranks, index=test.methods)
    height = 1.2 + 0.28 * len(test.methods)
    fig, ax = plt.subplots(figsize=(8.0, height), dpi=110)
    sp.critical_difference_diagram(ranks, test.pairwise, ax=ax, alpha=test.alpha, label_props={"fontsize": 8})
    if kinds:
        for label in ax.texts:
            name = label.get_text().split(" (")[0].strip()
            if kinds.get(name) == "method":
                label.set_fontweight("bold")
    import textwrap

    ax.set_title("\n".join([title, *textwrap.wrap(test.describe(), 110)]), fontsize=8)
    fig.tight_layout()
    if isinstance(path, (str, Path)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
