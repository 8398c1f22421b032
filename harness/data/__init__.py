"""Loaders of the official on-disk dataset formats, and readers of their images.

A loader is a pure function ``load_index(root, subset) -> pandas.DataFrame`` that validates the
layout of one subset (category) and returns its index; ``list_subsets(root)`` lists the subsets
on disk. Every index has the columns of :data:`INDEX_COLUMNS` (plus loader-specific extras,
e.g. ``xyz_path`` for MVTec 3D-AD), with rows sorted by ``(split, image_path)``:

- ``split``: str, ``"train"`` or ``"test"`` (``"validation"`` where the dataset ships one).
- ``label``: int64, 0 for a good image, 1 for an anomalous one.
- ``defect``: str, the defect type (``"good"`` for good images).
- ``image_path``: str, absolute path of the image.
- ``mask_path``: str, absolute path of the ground-truth mask, ``""`` for good images.

Loaders:

- :mod:`harness.data.mvtec_ad`: MVTec AD (also reads the embedded synthetic default).
- :mod:`harness.data.visa`: VisA, through ``split_csv/1cls.csv``.
- :mod:`harness.data.mvtec_3d`: MVTec 3D-AD, RGB images and masks; point clouds on demand.

Generators of the embedded synthetic data live in :mod:`harness.data.synth`.

Example:
    >>> from harness.data import mvtec_ad, read_images, read_masks  # doctest: +SKIP
    >>> index = mvtec_ad.load_index(root, "bottle")  # doctest: +SKIP
    >>> test = index[index.split == "test"]  # doctest: +SKIP
    >>> images = read_images(test.image_path, 256)  # doctest: +SKIP
    >>> masks = read_masks(test.mask_path, (900, 900))  # doctest: +SKIP
"""

from __future__ import annotations

from harness.data._images import image_shape, read_images, read_masks
from harness.data._layout import INDEX_COLUMNS, validate_index
from harness.data.errors import DataLayoutError, DataMissingError

__all__ = [
    "INDEX_COLUMNS",
    "DataLayoutError",
    "DataMissingError",
    "image_shape",
    "read_images",
    "read_masks",
    "validate_index",
]
