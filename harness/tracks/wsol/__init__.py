"""The ``wsol`` track: weakly supervised object localization on CUB-200-2011 and ImageNet layouts.

Modules: :mod:`~harness.tracks.wsol.track` (the track, its budget and data contract),
:mod:`~harness.tracks.wsol.cub` and :mod:`~harness.tracks.wsol.imagenet` (loaders of the official layouts, into
the :class:`~harness.tracks.wsol._index.WsolIndex` of :mod:`~harness.tracks.wsol._index`),
:mod:`~harness.tracks.wsol.synth` (the embedded default in the CUB layout), :mod:`~harness.tracks.wsol.nets`,
:mod:`~harness.tracks.wsol.boxes` and :mod:`~harness.tracks.wsol.method` (what the methods share: backbone,
classifier, CAM and DDT boxes, box regressor) and :mod:`~harness.tracks.wsol.figures`.
"""

from __future__ import annotations

from harness.tracks.wsol._index import INDEX_COLUMNS, WsolIndex
from harness.tracks.wsol.track import WsolBudget, WsolImages, WsolTrack, WsolTrain, WsolTruth, scale_boxes

__all__ = [
    "INDEX_COLUMNS",
    "WsolBudget",
    "WsolImages",
    "WsolIndex",
    "WsolTrack",
    "WsolTrain",
    "WsolTruth",
    "scale_boxes",
]
