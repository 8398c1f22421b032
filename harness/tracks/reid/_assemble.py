"""What every re-ID loader does once it has parsed its layout: check the protocol and build the :class:`ReidIndex`.

The loaders (:mod:`harness.tracks.reid.market`, :mod:`harness.tracks.reid.duke`,
:mod:`harness.tracks.reid.msmt`) read their own layout into :class:`ImageRow` records; :func:`assemble_index`
checks that the query split is not empty and that every query identity has at least one gallery image, sorts
each split by file name and returns the index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from harness.data import DataLayoutError
from harness.tracks.reid._index import INDEX_COLUMNS, SPLITS, ReidIndex

__all__ = ["ImageRow", "assemble_index"]


class ImageRow(NamedTuple):
    """One image as a loader read it.

    Attributes:
        split: One of :data:`SPLITS`.
        path: Absolute path of the image file.
        shown: How an error message names the image: its path relative to the dataset folder, with the list
            file and line where the layout has one.
        pid: Identity as it goes into the index (``0`` for gallery distractors).
        camid: 0-based camera index.
    """

    split: str
    path: Path
    shown: str
    pid: int
    camid: int


def _check_query(by_split: Mapping[str, list[ImageRow]], sources: Mapping[str, str], where: str) -> None:
    """The query split holds images, and each query identity has a gallery image."""
    query = by_split["query"]
    if not query:
        msg = (
            f"{where}: the query split ({sources['query']}) holds no image; the retrieval protocol needs at least "
            "one query image. Restore the query images from the dataset archive."
        )
        raise DataLayoutError(msg)
    gallery_pids = {row.pid for row in by_split["gallery"]}
    orphans = [row for row in query if row.pid not in gallery_pids]
    if orphans:
        msg = (
            f"{where}: query image {orphans[0].shown} has no gallery image of its identity in "
            f"{sources['gallery']} ({len(orphans)} of {len(query)} query images have none); every query identity "
            "needs at least one gallery image. Restore the gallery images or remove the query image."
        )
        raise DataLayoutError(msg)


def assemble_index(
    name: str, rows: Iterable[ImageRow], n_cameras: int, *, sources: Mapping[str, str], where: str
) -> ReidIndex:
    """Check the query/gallery pairing and build the index, each split sorted by file name.

    Args:
        name: The dataset's name, stored in :attr:`ReidIndex.name`.
        rows: Every image kept by the loader (junk already dropped), in any order.
        n_cameras: The dataset's camera count.
        sources: Split -> where its images come from, as error messages name it (``"query/"``).
        where: The dataset and its folder, the first words of every error message.

    Returns:
        The index: rows in split order (train, query, gallery), each split sorted by file name and then by path.

    Raises:
        DataLayoutError: The query split is empty, or a query identity has no gallery image (names the query
            image).
    """
    by_split: dict[str, list[ImageRow]] = {split: [] for split in SPLITS}
    for row in rows:
        by_split[row.split].append(row)
    _check_query(by_split, sources, where)
    ordered = [row for split in SPLITS for row in sorted(by_split[split], key=lambda r: (r.path.name, str(r.path)))]
    images = pd.DataFrame(
        {
            "path": [str(row.path) for row in ordered],
            "pid": np.asarray([row.pid for row in ordered], dtype=np.int64),
            "camid": np.asarray([row.camid for row in ordered], dtype=np.int64),
            "split": [row.split for row in ordered],
        },
        columns=list(INDEX_COLUMNS),
    )
    return ReidIndex(name=name, images=images, n_cameras=n_cameras)
