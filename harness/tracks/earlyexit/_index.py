"""The index every early-exit loader returns: images, their class and split, and the pixels where a file holds them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image

from harness.data import read_images

__all__ = ["INDEX_COLUMNS", "SPLITS", "ImageClassIndex"]

#: Columns of :attr:`ImageClassIndex.images`.
INDEX_COLUMNS = ("image_id", "split", "label", "source")
#: The splits of every index: the training images, and the images a track scores on.
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ImageClassIndex:
    """One image-classification dataset on disk, as its loader read it.

    Attributes:
        class_names: Name of each class; label ``i`` is ``class_names[i]`` (labels are 0-based and dense).
        images: DataFrame with :data:`INDEX_COLUMNS`: ``image_id`` (int64, the row number), ``split``
            (``"train"`` or ``"test"``), ``label`` (int64 in ``[0, n_classes)``) and ``source`` (str: the
            absolute path of an image file, or ``"<file>#<row>"`` for a row of an array file such as a CIFAR
            batch). Training rows come first, then test rows, each in the order of the dataset's files.
        pixels: uint8 array of shape (n_images, H, W, 3), row ``i`` the image of ``images`` row ``i``, for
            datasets stored as arrays (CIFAR); ``None`` for datasets of image files, decoded on demand.
    """

    class_names: tuple[str, ...]
    images: pd.DataFrame
    pixels: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def rows(self, split: str) -> np.ndarray:
        """Row numbers (int64 array of shape (n_split,)) of the images of ``split``, in index order."""
        if split not in SPLITS:
            msg = f"split of ImageClassIndex.rows must be one of {', '.join(SPLITS)}; got {split!r}."
            raise ValueError(msg)
        return np.flatnonzero(self.images["split"].to_numpy() == split).astype(np.int64)

    def labels(self, split: str) -> np.ndarray:
        """Labels of ``split``: int64 array of shape (n_split,)."""
        return self.images["label"].to_numpy(dtype=np.int64)[self.rows(split)]

    def read(self, split: str, *, size: int | None = None, n_workers: int | None = None) -> np.ndarray:
        """Pixels of ``split`` as one batch.

        Args:
            split: ``"train"`` or ``"test"``.
            size: ``None`` keeps the stored size (image files must then share one); an int ``s`` resizes every
                image to ``s x s`` (bilinear, through Pillow), whatever its stored size.
            n_workers: Decoding threads for image files (see :func:`harness.data.read_images`).

        Returns:
            uint8 array of shape (n_split, H, W, 3).

        Raises:
            DataLayoutError: An image file cannot be decoded, or native sizes differ with ``size=None``; names
                the file.

        Example:
            >>> index.read("test", size=32).shape  # doctest: +SKIP
            (10000, 32, 32, 3)
        """
        rows = self.rows(split)
        if self.pixels is None:
            return read_images(self.images["source"].to_numpy()[rows], size, n_workers=n_workers)
        pixels = self.pixels[rows]
        if size is None or pixels.shape[1:3] == (size, size):
            return pixels
        out = np.empty((len(pixels), size, size, 3), dtype=np.uint8)
        for i, image in enumerate(pixels):
            out[i] = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        return out
