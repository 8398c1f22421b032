"""The index every re-ID loader returns: one row per image with its identity, camera and split."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["INDEX_COLUMNS", "JUNK_ID", "DISTRACTOR_ID", "SPLITS", "ReidIndex"]

#: Columns of :attr:`ReidIndex.images`.
INDEX_COLUMNS = ("path", "pid", "camid", "split")

#: The three splits of the Market-1501 protocol.
SPLITS = ("train", "query", "gallery")

#: Identity of junk images (Market-1501 ``-1``): dropped from every split by the loaders.
JUNK_ID = -1

#: Identity of distractors (Market-1501 ``0000``): kept in the gallery as false matches.
DISTRACTOR_ID = 0


@dataclass(frozen=True)
class ReidIndex:
    """One re-ID dataset on disk, as its loader read it.

    Attributes:
        name: What the loader read (``"Market-1501"``, ``"DukeMTMC-reID"``, ``"MSMT17"``).
        images: DataFrame with :data:`INDEX_COLUMNS`, rows in split order (train, query, gallery) and then
            sorted by file name: ``path`` (absolute path of the image file, str), ``pid`` (int64, the
            dataset's own identity number; ``0`` marks gallery distractors, junk ``-1`` images are not listed),
            ``camid`` (int64, 0-based camera index), ``split`` (one of :data:`SPLITS`).
        n_cameras: Number of cameras of the dataset (``camid`` lies in ``[0, n_cameras)``).
    """

    name: str
    images: pd.DataFrame
    n_cameras: int

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split, index reset."""
        return self.images[self.images["split"] == name].reset_index(drop=True)
