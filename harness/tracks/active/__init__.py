"""The ``active`` track: pool-based active learning on tabular classification data.

Modules: :mod:`~harness.tracks.active.track` (the track, its budget and data contract),
:mod:`~harness.tracks.active.loop` (:class:`QueryStrategy`, the base class every strategy implements, and the
query loop), :mod:`~harness.tracks.active.tabular` (the CSV table loader), :mod:`~harness.tracks.active.synth`
(the embedded default: scikit-learn's UCI tables and ``make_classification`` variants) and
:mod:`~harness.tracks.active.figures`.
"""

from __future__ import annotations

from harness.tracks.active.loop import CLASSIFIERS, PoolState, QueryStrategy, make_classifier
from harness.tracks.active.track import (
    CURVE_PERCENTS,
    ActiveBudget,
    ActiveInputs,
    ActivePool,
    ActiveTrack,
    ActiveTruth,
    expected_steps,
    split_pool,
)

__all__ = [
    "CLASSIFIERS",
    "CURVE_PERCENTS",
    "ActiveBudget",
    "ActiveInputs",
    "ActivePool",
    "ActiveTrack",
    "ActiveTruth",
    "PoolState",
    "QueryStrategy",
    "expected_steps",
    "make_classifier",
    "split_pool",
]
