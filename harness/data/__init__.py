"""What several tracks share: reading images and masks, data errors, the staging of generated datasets.

Track-specific loaders of official layouts live in their track's package (e.g.
:mod:`harness.tracks.anomaly.mvtec_ad`); :mod:`harness.data.interactions` reads the interaction logs of
recommendation datasets (MovieLens, Lastfm, Amazon reviews), a format more than one track reads.
:mod:`harness.data.synth` holds the drawing primitives and the atomic staging frame that the synthetic
generators of the tracks build on.

Example:
    >>> from harness.data import read_images, read_masks  # doctest: +SKIP
    >>> images = read_images(paths, 256)  # doctest: +SKIP
    >>> masks = read_masks(mask_paths, (900, 900))  # doctest: +SKIP
"""

from __future__ import annotations

from harness.data._images import image_shape, read_images, read_masks
from harness.data._inputs import LabelFreeImages
from harness.data.errors import DataLayoutError, DataMissingError

__all__ = [
    "DataLayoutError",
    "DataMissingError",
    "LabelFreeImages",
    "image_shape",
    "read_images",
    "read_masks",
]
