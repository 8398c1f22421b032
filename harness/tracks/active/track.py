"""The ``active`` track: pool-based active learning of a classifier under one label budget.

Protocol (every method and baseline runs it identically; the budget fixes every number):

1. Each (seed, subset) draws a stratified split: ``test_fraction`` of the rows for testing, the rest
   the pool (:func:`split_pool`). Features are standardised with the pool's mean and std.
2. The initial labelled set holds ``n_initial`` pool rows (at least one of every class: one random row
   per class first, then random rows), the same for every method of that (seed, subset).
3. A strategy queries ``batch_size`` pool rows at a time until ``label_budget`` labels are spent
   (capped at the pool size minus the initial set). The shared loop
   (:class:`harness.tracks.active.QueryStrategy`) reveals the label of each queried row, retrains
   the budget's classifier (the same for every strategy) after each batch and keeps it.
4. Every kept classifier predicts the test set; the track computes test accuracy per step.

Data contract:

- ``load_train`` returns :class:`ActivePool`: the standardised pool features, the pool labels (the
  oracle; the loop reveals a label only when its row is queried), the initial labelled rows.
- ``load_test_inputs`` returns :class:`ActiveInputs`: the standardised test features, no labels.
- ``load_truth`` returns :class:`ActiveTruth` (runner's process only): test labels and the expected steps.
- Predictions: ``labels`` int array of shape (n_steps, n_test), class numbers in [0, n_classes);
  ``n_labelled`` int array of shape (n_steps,), labels used at each step (n_initial, n_initial + b, ...);
  ``queried`` int array of shape (n_queried,), pool rows in query order (unique, outside the initial set);
  ``query_s`` float array of shape (n_steps - 1,), seconds the strategy took to choose each batch.

Metrics: ``aulc`` (main): area under the curve of test accuracy against labels used, divided by the
label range (:func:`harness.metrics.curves.area_under_learning_curve`), so it is the mean accuracy over
the budget; ``accuracy_at_{25,50,100}pct``: test accuracy after 25, 50 and 100 % of the label budget
(linear interpolation between steps when a batch overshoots); ``query_s``: mean seconds per query
(choice of one batch, retraining excluded). The curve itself is stored at every 5 % of the budget as the
diagnostic array ``curve`` (:meth:`ActiveTrack.diagnostics`), drawn per subset by
:meth:`ActiveTrack.leaderboard_figures`. ``aulc`` and the accuracies are resampled over test rows for the
leaderboard's intervals (:meth:`ActiveTrack.item_results`).
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import InvalidPredictionError, ParbenchError
from harness.options import option
from harness.registry import load_target

__all__ = [
    "CURVE_PERCENTS",
    "ActiveBudget",
    "ActiveInputs",
    "ActivePool",
    "ActiveTrack",
    "ActiveTruth",
    "expected_steps",
    "split_pool",
]

#: Percent of the label budget at which the learning curve is stored (figures only).
CURVE_PERCENTS = tuple(range(0, 101, 5))
#: Names of the stored curve points, ``curve_000`` ... ``curve_100``.
#: Percent of the label budget of the ``accuracy_at_*pct`` metrics.
ACCURACY_PERCENTS = (25, 50, 100)



@dataclass(frozen=True)
class ActiveBudget(Budget):
    """Budget of the active track: split, initial set, batch size, label budget and the one classifier."""

    test_fraction: float = option(0.3, "Fraction of each table held out for testing.", gt=0, lt=1)
    n_initial: int = option(10, "Labelled pool rows at the start (raised to the number of classes).", ge=1)
    label_budget: int = option(60, "Labels queried after the initial set (capped at the pool size).", ge=1)
    batch_size: int = option(1, "Rows queried at once (1 = sequential; >1 = batch mode).", ge=1)
    classifier: str = option(
        "logistic_regression", "Classifier every strategy retrains after each query.", choices=("logistic_regression",)
    )
    classifier_c: float = option(1.0, "Inverse regularisation strength C of the classifier.", gt=0)
    label_column: str = option("label", "Label column of the CSV / ARFF files.", non_empty=True)


@dataclass
class ActivePool:
    """The pool of one (subset, seed) as a job sees it.

    Attributes:
        features: float64 array of shape (n_pool, n_features), standardised with the pool's statistics.
        labels: int64 array of shape (n_pool,), the oracle; the query loop reveals a row's label only
            when the row is in the initial set or queried.
        initial: int64 array of shape (n_initial,), pool rows labelled at the start (every class present).
        n_classes: Number of classes of the table.
    """

    features: np.ndarray
    labels: np.ndarray
    initial: np.ndarray
    n_classes: int


@dataclass
class ActiveInputs:
    """Test inputs of one (subset, seed): float64 ``features`` of shape (n_test, n_features), no labels."""

    features: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def take(self, order: np.ndarray) -> ActiveInputs:
        """The rows in ``order`` (int array of shape (n_test,))."""
        return ActiveInputs(self.features[order])


@dataclass
class ActiveTruth:
    """Test truth of one (subset, seed); lives in the runner's process only.

    Attributes:
        labels: int64 array of shape (n_test,).
        n_classes: Number of classes.
        n_pool: Rows in the pool.
        initial: int64 array of shape (n_initial,), the initial labelled pool rows.
        n_labelled: int64 array of shape (n_steps,), labels used at each step.
    """

    labels: np.ndarray
    n_classes: int
    n_pool: int
    initial: np.ndarray
    n_labelled: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> ActiveTruth:
        """The test labels in ``order`` (int array of shape (n_test,)); the pool side is unchanged."""
        return dataclasses.replace(self, labels=self.labels[order])


@dataclass(frozen=True)
class _Split:
    pool: np.ndarray
    test: np.ndarray
    initial: np.ndarray


def _split_seed(seed: int, subset: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), zlib.crc32(subset.encode())])


def split_pool(labels: np.ndarray, *, seed: int, subset: str, test_fraction: float, n_initial: int) -> _Split:
    """Draw the stratified pool / test split and the initial labelled set of one (seed, subset).

    Args:
        labels: int64 array of shape (n_samples,), class numbers 0..n_classes-1, all present.
        seed: The job's seed.
        subset: The subset name (different subsets get independent splits for the same seed).
        test_fraction: Fraction of the rows held out, in (0, 1).
        n_initial: Size of the initial set; raised to the number of classes.

    Returns:
        ``pool`` and ``test`` (row numbers of the table, sorted, disjoint) and ``initial`` (positions in
        ``pool``, sorted): one random pool row of every class, then random pool rows up to ``n_initial``.

    Raises:
        ParbenchError: A class has too few rows to appear in both the pool and the test set.

    Example:
        >>> split = split_pool(np.repeat([0, 1], 10), seed=0, subset="demo", test_fraction=0.3, n_initial=4)
        >>> len(split.pool), len(split.test), len(split.initial)
        (14, 6, 4)
    """
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    sequence = _split_seed(seed, subset)
    split_state, initial_state = (int(s.generate_state(1)[0]) for s in sequence.spawn(2))
    counts = np.bincount(labels)
    if counts.min() < 2:
        rare = int(np.argmin(counts))
        msg = (
            f"subset {subset!r}: class {rare} has {int(counts.min())} row(s); a stratified pool/test split "
            "needs at least 2 per class. Remove that class or add rows."
        )
        raise ParbenchError(msg)
    rows = np.arange(len(labels))
    try:
        pool, test = train_test_split(rows, test_size=test_fraction, stratify=labels, random_state=split_state)
    except ValueError as exc:
        msg = f"subset {subset!r}: cannot split {len(labels)} rows at test_fraction={test_fraction}: {exc}"
        raise ParbenchError(msg) from exc
    pool, test = np.sort(pool), np.sort(test)
    rng = np.random.default_rng(initial_state)
    pool_labels = labels[pool]
    first = [int(rng.choice(np.flatnonzero(pool_labels == c))) for c in range(int(labels.max()) + 1)]
    rest = np.setdiff1d(np.arange(len(pool)), first)
    n_more = max(0, min(n_initial, len(pool)) - len(first))
    initial = np.sort(np.concatenate([first, rng.choice(rest, size=n_more, replace=False)]).astype(np.int64))
    return _Split(pool.astype(np.int64), test.astype(np.int64), initial)


def expected_steps(n_initial: int, label_budget: int, batch_size: int) -> np.ndarray:
    """Labels used at each step: ``n_initial``, then one more batch per step, the last one possibly smaller.

    Example:
        >>> expected_steps(3, 5, 2).tolist()
        [3, 5, 7, 8]
    """
    n_rounds = math.ceil(label_budget / batch_size)
    return np.minimum(n_initial + batch_size * np.arange(n_rounds + 1), n_initial + label_budget).astype(np.int64)


def _step_weights(n_labelled: np.ndarray) -> dict[str, np.ndarray]:
    """Weights over the steps that turn a curve of accuracies into each resampled metric (all linear in it).

    ``aulc``: the normalised trapezoid area; ``accuracy_at_<p>pct``: linear interpolation at p % of the budget.
    Each weight vector is the metric applied to the unit curves (the metric of curve e_r is the weight of step r).
    """
    from harness.metrics.curves import area_under_learning_curve

    start, span = n_labelled[0], n_labelled[-1] - n_labelled[0]
    units = np.eye(len(n_labelled))
    out = {"aulc": np.array([area_under_learning_curve(n_labelled, unit, validate=False) for unit in units])}
    for p in ACCURACY_PERCENTS:
        out[f"accuracy_at_{p}pct"] = np.array([np.interp(start + span * p / 100, n_labelled, unit) for unit in units])
    return out


class ActiveTrack(Track):
    """Pool-based active learning: normalised area under the learning curve, accuracy at 25/50/100 %."""

    name = "active"
    description = "Pool-based active learning of one classifier under a label budget (tabular data)."
    metrics = {
        "aulc": True,
        **{f"accuracy_at_{p}pct": True for p in ACCURACY_PERCENTS},
        "query_s": False,
    }
    budget_cls = ActiveBudget
    budgets = {
        "smoke": {
            "time_limit_s": 60.0, "memory_limit_mb": 2048, "seeds": (0,), "n_initial": 3, "label_budget": 12,
        },
        "default": {
            "time_limit_s": 120.0, "memory_limit_mb": 3072, "seeds": (0, 1, 2), "n_initial": 10, "label_budget": 60,
        },
        "paper": {
            "time_limit_s": 1800.0, "memory_limit_mb": 8192, "seeds": tuple(range(10)), "n_initial": 10,
            "label_budget": 200,
        },
    }
    default_dataset = "classification_suite"
    budget_subsets = {"smoke": ("iris",)}
    seeded_split = True
    #: Tolerance of new rows of results/reference/active.csv: two test rows of the smoke subset (iris,
    #: 45 test rows, 0.022 each), so one prediction flipped by floating-point noise does not fail the check.
    tolerance = 0.05

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Tables present on disk."""
        return list(load_target(card.subsets_lister)(root))

    def _prepare(
        self, root: Path, card: Any, subset: str, budget: ActiveBudget, seed: int
    ) -> tuple[np.ndarray, np.ndarray, _Split, int, int]:
        """Read the table, split it, standardise; return features, labels, split, n_classes, label budget."""
        table = load_target(card.loader)(root, subset, label_column=budget.label_column)
        split = split_pool(
            table.labels, seed=seed, subset=subset, test_fraction=budget.test_fraction, n_initial=budget.n_initial
        )
        pool_features = table.features[split.pool]
        mean, std = pool_features.mean(axis=0), pool_features.std(axis=0)
        std[std == 0] = 1.0
        features = (table.features - mean) / std
        label_budget = min(budget.label_budget, len(split.pool) - len(split.initial))
        if label_budget < 1:
            msg = f"subset {subset!r}: a pool of {len(split.pool)} rows leaves no label to query after the initial set."
            raise ParbenchError(msg)
        return features, table.labels, split, table.n_classes, label_budget

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ActivePool:
        """The pool of (subset, seed): standardised features, the oracle's labels and the initial rows."""
        features, labels, split, n_classes, _ = self._prepare(root, card, subset, budget, seed)
        return ActivePool(features[split.pool], labels[split.pool], split.initial, n_classes)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ActiveInputs:
        """Standardised test features of (subset, seed), without labels."""
        features, _, split, _, _ = self._prepare(root, card, subset, budget, seed)
        return ActiveInputs(features[split.test])

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ActiveTruth:
        """Test labels of (subset, seed) and the label counts every step must report."""
        _, labels, split, n_classes, label_budget = self._prepare(root, card, subset, budget, seed)
        steps = expected_steps(len(split.initial), label_budget, budget.batch_size)
        return ActiveTruth(labels[split.test], n_classes, len(split.pool), split.initial, steps)

    def validate(self, predictions: Predictions, truth: ActiveTruth) -> None:
        """Check shapes, dtypes and ranges; the steps and the queried rows must follow the protocol."""
        n_steps, n_test = len(truth.n_labelled), len(truth.labels)
        labels = predictions.check("labels", shape=(n_steps, n_test), kind="iu")
        n_labelled = predictions.check("n_labelled", shape=(n_steps,), kind="iu")
        n_queried = int(truth.n_labelled[-1] - truth.n_labelled[0])
        queried = predictions.check("queried", shape=(n_queried,), kind="iu")
        query_s = predictions.check("query_s", shape=(n_steps - 1,), kind="f")
        if labels.min() < 0 or labels.max() >= truth.n_classes:
            msg = (
                f"predictions['labels'] must be class numbers in [0, {truth.n_classes}); "
                f"got {labels.min()}..{labels.max()}."
            )
            raise InvalidPredictionError(msg)
        if not np.array_equal(n_labelled, truth.n_labelled):
            msg = (
                f"predictions['n_labelled'] must be the budget's steps {truth.n_labelled.tolist()[:6]}...; "
                f"got {n_labelled.tolist()[:6]}...."
            )
            raise InvalidPredictionError(msg)
        bad = (queried < 0) | (queried >= truth.n_pool) | np.isin(queried, truth.initial)
        if bad.any() or len(np.unique(queried)) != len(queried):
            msg = (
                f"predictions['queried'] must be distinct pool rows in [0, {truth.n_pool}) outside the initial set; "
                f"got {queried.tolist()[:10]}...."
            )
            raise InvalidPredictionError(msg)
        if (query_s < 0).any():
            msg = f"predictions['query_s'] must be >= 0 seconds; got {float(query_s.min())}."
            raise InvalidPredictionError(msg)

    def evaluate(self, predictions: Predictions, truth: ActiveTruth) -> dict[str, float]:
        """Test accuracy per step -> normalised AULC, accuracy at 25/50/100 % of the budget, curve points."""
        from harness.metrics.curves import area_under_learning_curve

        accuracy = (predictions["labels"] == truth.labels[None, :]).mean(axis=1)
        n_labelled = truth.n_labelled.astype(np.float64)
        start, span = n_labelled[0], n_labelled[-1] - n_labelled[0]
        out = {"aulc": area_under_learning_curve(n_labelled, accuracy)}
        for p in ACCURACY_PERCENTS:
            out[f"accuracy_at_{p}pct"] = float(np.interp(start + span * p / 100, n_labelled, accuracy))
        out["query_s"] = float(np.mean(predictions["query_s"]))
        return out

    def diagnostics(self, predictions: Predictions, truth: ActiveTruth) -> dict[str, np.ndarray]:
        """The learning curve: test accuracy at every 5 % of the label budget (``curve``, 21 points)."""
        accuracy = (predictions["labels"] == truth.labels[None, :]).mean(axis=1)
        n_labelled = truth.n_labelled.astype(np.float64)
        start, span = n_labelled[0], n_labelled[-1] - n_labelled[0]
        return {"curve": np.interp(start + span * np.asarray(CURVE_PERCENTS) / 100, n_labelled, accuracy)}

    strata_item = "label"

    def item_results(self, predictions: Predictions, truth: ActiveTruth) -> dict[str, np.ndarray]:
        """Per test row: its weight in each resampled metric (1.0 correct, 0.0 wrong, mixed along the curve).

        Every resampled metric is linear in the accuracies of the steps, so it is the mean over test rows of the
        same functional applied to the row's own 0/1 curve (``aulc``: the row's share of the budget spent
        correct; ``accuracy_at_*``: its interpolated correctness); the label stratifies the resamples.
        """
        correct = (predictions["labels"] == truth.labels[None, :]).astype(np.float64)  # (n_steps, n_test)
        out = {"label": truth.labels.astype(np.int64)}
        for name, weights in _step_weights(truth.n_labelled.astype(np.float64)).items():
            out[name] = weights @ correct
        return out

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """AULC and accuracy at 25/50/100 % of every resample of the test rows."""
        from harness.metrics.resample import weighted_mean

        names = ["aulc", *(f"accuracy_at_{p}pct" for p in ACCURACY_PERCENTS)]
        return {name: weighted_mean(items[name], weights) for name in names}

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """One learning-curve PNG per (dataset, subset): mean and std band over seeds, one line per method."""
        from harness.tracks.active.figures import learning_curve_figures

        return learning_curve_figures(rows, out_dir, diagnostics or {}, percents=CURVE_PERCENTS)
