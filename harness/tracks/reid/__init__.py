"""Unsupervised person re-identification track (Market-1501 / DukeMTMC-reID / MSMT17 layouts).

Modules: :mod:`~harness.tracks.reid.track` (the track, its budget and data contract),
:mod:`~harness.tracks.reid.market`, :mod:`~harness.tracks.reid.duke` and :mod:`~harness.tracks.reid.msmt`
(loaders of the official layouts into the :class:`~harness.tracks.reid._index.ReidIndex`),
:mod:`~harness.tracks.reid.synth` (the embedded default in the Market-1501 layout),
:mod:`~harness.tracks.reid.method` (the base class that hides identities and cameras, the shared network and
training loop, the cluster memory), :mod:`~harness.tracks.reid.neighbours` (k-reciprocal Jaccard distances and
DBSCAN) and :mod:`~harness.tracks.reid.figures`.
"""

from harness.tracks.reid._index import DISTRACTOR_ID, INDEX_COLUMNS, JUNK_ID, SPLITS, ReidIndex
from harness.tracks.reid.track import ReidBudget, ReidTest, ReidTrack, ReidTrain, ReidTruth, distance_matrix

__all__ = [
    "DISTRACTOR_ID",
    "INDEX_COLUMNS",
    "JUNK_ID",
    "SPLITS",
    "ReidBudget",
    "ReidIndex",
    "ReidTest",
    "ReidTrack",
    "ReidTrain",
    "ReidTruth",
    "distance_matrix",
]
