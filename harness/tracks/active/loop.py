"""The query loop every active-learning strategy shares: reveal, retrain, keep; strategies only ``select``.

A strategy subclasses :class:`QueryStrategy` and implements :meth:`QueryStrategy.select`, which gets the
:class:`PoolState` of one round (features, labelled rows and their labels, unlabelled rows, the current
classifier and its probabilities) and returns the pool rows to query. The loop, identical for all:

1. fit the budget's classifier (:func:`make_classifier`) on the initial labelled rows;
2. while labels remain: time ``select``, check its answer (distinct unlabelled rows, one batch), reveal
   the labels of the chosen rows, refit the classifier from scratch on every labelled row, keep it;
3. ``predict`` applies every kept classifier to the test inputs.

Strategies never see a label before its row is queried: :class:`PoolState` carries the labels of the
labelled rows only. :meth:`QueryStrategy.prepare` runs once per split before the first query, for work
that depends on the pool features only (e.g. a kernel matrix).
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.errors import BudgetError

__all__ = ["CLASSIFIERS", "PoolState", "QueryStrategy", "make_classifier"]

#: Classifiers a budget may name.
CLASSIFIERS = ("logistic_regression",)


def make_classifier(name: str, *, c: float, seed: int) -> Any:
    """Build the unfitted classifier every strategy of a table retrains.

    Args:
        name: One of :data:`CLASSIFIERS`; ``logistic_regression`` is multinomial L2 logistic
            regression (lbfgs), deterministic.
        c: Inverse regularisation strength.
        seed: Seed of classifiers that draw random numbers.

    Raises:
        BudgetError: Unknown classifier name; lists the known ones.
    """
    if name == "logistic_regression":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=1000, random_state=seed)
    msg = f"budget field classifier must be one of {', '.join(CLASSIFIERS)}; got {name!r}."
    raise BudgetError(msg)


@dataclass
class PoolState:
    """What a strategy sees in one round.

    Attributes:
        features: float64 array of shape (n_pool, n_features), the whole pool.
        labelled: int64 array of shape (n_labelled,), pool rows with a known label, in labelling order.
        labels: int64 array of shape (n_labelled,), their labels.
        unlabelled: int64 array of shape (n_unlabelled,), the other pool rows, sorted.
        proba: float64 array of shape (n_pool, n_classes), the current classifier's class probabilities.
        model: The current classifier, fitted on ``labelled`` (scikit-learn API, ``predict_proba``).
        n_classes: Number of classes.
        batch_size: Rows to return this round.
        round: Round number, from 0.
        rng: The strategy's random generator (seeded from the job's seed).
    """

    features: np.ndarray
    labelled: np.ndarray
    labels: np.ndarray
    unlabelled: np.ndarray
    proba: np.ndarray
    model: Any
    n_classes: int
    batch_size: int
    round: int
    rng: np.random.Generator

    def random_state(self) -> int:
        """A fresh integer seed drawn from :attr:`rng`, for libraries that take ``random_state``."""
        return int(self.rng.integers(2**31 - 1))


class QueryStrategy(Method):
    """Base class of every strategy of the active track; subclasses implement :meth:`select`."""

    track = "active"
    kind = "baseline"

    def prepare(self, features: np.ndarray, ctx: Context) -> None:  # noqa: B027 - optional hook
        """Work that depends on the pool features only, once per split (default: nothing).

        Args:
            features: float64 array of shape (n_pool, n_features).
            ctx: The job's context.
        """

    @abstractmethod
    def select(self, state: PoolState) -> np.ndarray:
        """Return ``state.batch_size`` distinct rows of ``state.unlabelled`` to query, best first.

        Returns:
            int array of shape (state.batch_size,), pool row numbers.
        """

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Run the query loop on the pool ``train`` (:class:`harness.tracks.active.ActivePool`).

        BLAS runs single-threaded: the matrices are small, so threads cost more than they save and would
        make ``query_s`` depend on the machine's load.
        """
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            self._loop(train, budget, ctx)

    def _loop(self, train: Any, budget: Budget, ctx: Context) -> None:
        features, oracle = train.features, train.labels
        n_pool = len(features)
        label_budget = min(budget.label_budget, n_pool - len(train.initial))
        n_rounds = math.ceil(label_budget / budget.batch_size)
        rng = np.random.default_rng(ctx.seed)
        labelled = [int(i) for i in train.initial]
        is_labelled = np.zeros(n_pool, dtype=bool)
        is_labelled[labelled] = True
        self.prepare(features, ctx)
        self.models_ = [self._fit_classifier(features, oracle, labelled, budget, ctx)]
        self.n_labelled_ = [len(labelled)]
        self.query_s_: list[float] = []
        for round_ in range(n_rounds):
            batch_size = min(budget.batch_size, label_budget - (len(labelled) - len(train.initial)))
            model = self.models_[-1]
            state = PoolState(
                features=features,
                labelled=np.asarray(labelled, dtype=np.int64),
                labels=oracle[labelled],
                unlabelled=np.flatnonzero(~is_labelled),
                proba=model.predict_proba(features),
                model=model,
                n_classes=train.n_classes,
                batch_size=batch_size,
                round=round_,
                rng=rng,
            )
            start = time.perf_counter()
            chosen = np.asarray(self.select(state)).astype(np.int64).reshape(-1)
            self.query_s_.append(time.perf_counter() - start)
            self._check_batch(chosen, batch_size, is_labelled)
            labelled += chosen.tolist()
            is_labelled[chosen] = True
            self.models_.append(self._fit_classifier(features, oracle, labelled, budget, ctx))
            self.n_labelled_.append(len(labelled))
        self.queried_ = np.asarray(labelled[len(train.initial) :], dtype=np.int64)

    @staticmethod
    def _fit_classifier(
        features: np.ndarray, oracle: np.ndarray, labelled: list[int], budget: Budget, ctx: Context
    ) -> Any:
        model = make_classifier(budget.classifier, c=budget.classifier_c, seed=ctx.seed)
        return model.fit(features[labelled], oracle[labelled])

    def _check_batch(self, chosen: np.ndarray, batch_size: int, is_labelled: np.ndarray) -> None:
        name = self.name or type(self).__name__
        if len(chosen) != batch_size or len(np.unique(chosen)) != batch_size:
            msg = f"strategy {name!r} must select {batch_size} distinct rows; got {chosen.tolist()}."
            raise ValueError(msg)
        if chosen.min() < 0 or chosen.max() >= len(is_labelled) or is_labelled[chosen].any():
            msg = f"strategy {name!r} must select unlabelled rows in [0, {len(is_labelled)}); got {chosen.tolist()}."
            raise ValueError(msg)

    def predict(self, inputs: Any) -> Predictions:
        """Predict the test inputs with the classifier of every step."""
        labels = np.stack([model.predict(inputs.features) for model in self.models_]).astype(np.int64)
        return Predictions.of(
            labels=labels,
            n_labelled=np.asarray(self.n_labelled_, dtype=np.int64),
            queried=self.queried_,
            query_s=np.asarray(self.query_s_, dtype=np.float64),
        )
