"""Unsupervised person re-identification track (Market-1501 / DukeMTMC-reID / MSMT17 layouts)."""

from harness.tracks.reid._index import DISTRACTOR_ID, INDEX_COLUMNS, JUNK_ID, SPLITS, ReidIndex

__all__ = ["DISTRACTOR_ID", "INDEX_COLUMNS", "JUNK_ID", "SPLITS", "ReidIndex"]
