"""The test inputs of an image track that hands a method images only (no labels, boxes or masks)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LabelFreeImages"]


@dataclass
class LabelFreeImages:
    """Images of one split, no labels; tracks subclass it under their own name.

    Attributes:
        images: uint8 array of shape (n_images, H, W, 3), RGB.
    """

    images: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def take(self, order: np.ndarray) -> LabelFreeImages:
        """The images in ``order`` (int array of shape (n_images,)), as an instance of the same class."""
        return type(self)(self.images[order])
