"""The floor: a hand-crafted colour-histogram and texture descriptor over horizontal stripes, no learning.

Each image (at the budget's size) is cut into ``n_stripes`` horizontal stripes, as in the stripe descriptors of
LOMO (Liao et al., CVPR 2015) and of ELF; each stripe gives a joint HSV histogram (8 x 4 x 4 bins, hue, saturation
and value; scikit-image's ``rgb2hsv``) and a histogram of uniform local binary patterns of the grey image
(scikit-image's ``local_binary_pattern``, 8 neighbours at radius 1: 10 codes). Histograms are normalised per
stripe, square-rooted (the Hellinger map) and concatenated with the texture part weighted by
``texture_weight``; images are compared by the Euclidean distance of the L2-normalised descriptors (no metric
learning, so no XQDA: the floor uses no training data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.options import option
from harness.tracks.reid.method import ReidMethod

__all__ = ["Handcrafted", "describe"]

_BINS = (8, 4, 4)
_LBP_CODES = 10


def describe(images: np.ndarray, *, n_stripes: int = 6, texture_weight: float = 0.5) -> np.ndarray:
    """Descriptors (n, n_stripes * (128 + 10)) of uint8 RGB images (n, H, W, 3), L2-normalised, float32.

    Example:
        >>> describe(np.zeros((2, 12, 6, 3), dtype=np.uint8), n_stripes=3).shape
        (2, 414)
    """
    from skimage.color import rgb2gray, rgb2hsv
    from skimage.feature import local_binary_pattern

    n, height = len(images), images.shape[1]
    edges = np.linspace(0, height, n_stripes + 1).round().astype(int)
    n_colour = int(np.prod(_BINS))
    out = np.zeros((n, n_stripes, n_colour + _LBP_CODES), dtype=np.float64)
    for i, image in enumerate(images):
        hsv = rgb2hsv(image)
        codes = np.minimum((hsv * np.array(_BINS)).astype(int), np.array(_BINS) - 1)
        colour = (codes[..., 0] * _BINS[1] + codes[..., 1]) * _BINS[2] + codes[..., 2]
        grey = (rgb2gray(image) * 255).astype(np.uint8)
        texture = local_binary_pattern(grey, 8, 1, method="uniform").astype(int)
        for s in range(n_stripes):
            rows = slice(edges[s], edges[s + 1])
            hist_c = np.bincount(colour[rows].ravel(), minlength=n_colour).astype(np.float64)
            hist_t = np.bincount(texture[rows].ravel(), minlength=_LBP_CODES).astype(np.float64)
            out[i, s, :n_colour] = np.sqrt(hist_c / max(hist_c.sum(), 1.0))
            out[i, s, n_colour:] = texture_weight * np.sqrt(hist_t / max(hist_t.sum(), 1.0))
    flat = out.reshape(n, -1)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return (flat / np.maximum(norms, 1e-12)).astype(np.float32)


class Handcrafted(ReidMethod):
    """Stripe HSV + LBP histograms, Euclidean distance: what a re-ID method must beat without any training."""

    name = "handcrafted"
    kind = "baseline"
    paper = "stripe colour and LBP histograms (as in ELF, Gray and Tao, ECCV 2008, and LOMO, Liao et al., CVPR 2015)"
    distance: ClassVar[str] = "euclidean"

    @dataclass(frozen=True)
    class Config:
        """Options of the hand-crafted descriptor."""

        n_stripes: int = option(6, "Horizontal stripes per image.", ge=1)
        texture_weight: float = option(0.5, "Weight of the LBP histograms against the colour histograms.", ge=0)

    def learn(self, train: Any) -> None:
        """Nothing to learn (the training images are not used)."""

    def embed(self, images: np.ndarray, cameras: np.ndarray | None = None) -> np.ndarray:
        """The descriptors of ``images``."""
        return describe(images, n_stripes=self.config.n_stripes, texture_weight=self.config.texture_weight)
