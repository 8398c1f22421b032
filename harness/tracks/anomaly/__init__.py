"""The ``anomaly`` track: industrial anomaly detection on MVTec AD, VisA and MVTec 3D-AD layouts.

Modules: :mod:`~harness.tracks.anomaly.track` (the track, its budget and data contract),
:mod:`~harness.tracks.anomaly.mvtec_ad`, :mod:`~harness.tracks.anomaly.visa` and
:mod:`~harness.tracks.anomaly.mvtec_3d` (loaders of the official layouts, over the shared checks of
:mod:`~harness.tracks.anomaly._layout`), :mod:`~harness.tracks.anomaly.synth` (the embedded default in the
MVTec AD layout) and :mod:`~harness.tracks.anomaly.figures`.
"""

from __future__ import annotations

from harness.tracks.anomaly._layout import INDEX_COLUMNS, validate_index
from harness.tracks.anomaly.track import AnomalyBudget, AnomalyImages, AnomalyTrack, AnomalyTruth, upsample_maps

__all__ = [
    "INDEX_COLUMNS",
    "AnomalyBudget",
    "AnomalyImages",
    "AnomalyTrack",
    "AnomalyTruth",
    "upsample_maps",
    "validate_index",
]
