"""The index every WSOL loader returns: images, their class, split, size and boxes in original pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["INDEX_COLUMNS", "WsolIndex"]

#: Columns of :attr:`WsolIndex.images`, rows sorted by ``image_id``.
INDEX_COLUMNS = ("image_id", "path", "label", "split", "width", "height")


@dataclass(frozen=True)
class WsolIndex:
    """One WSOL dataset on disk, as its loader read it.

    Attributes:
        class_names: Name of each class; label ``i`` is ``class_names[i]`` (labels are 0-based and dense).
        images: DataFrame with :data:`INDEX_COLUMNS`: ``image_id`` (int, the dataset's own id), ``path``
            (absolute path of the image file), ``label`` (int64 in ``[0, n_classes)``), ``split``
            (``"train"`` or ``"test"``), ``width`` and ``height`` (int, pixels of the file).
        boxes: image_id -> float64 array of shape (n_boxes, 4), ``(x0, y0, x1, y1)`` in the pixel-edge
            coordinates of the original image (``0 <= x0 < x1 <= width``); every listed image with a box
            annotation has at least one row.
    """

    class_names: tuple[str, ...]
    images: pd.DataFrame
    boxes: dict[int, np.ndarray]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)
