"""Adapter of the per-pixel Gaussian floor to the harness contract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baselines.pixel_gaussian.model import fit_pixel_gaussian, pixel_gaussian_maps
from harness.api import Budget, Context, Method, Predictions
from harness.options import option

__all__ = ["PixelGaussian"]


class PixelGaussian(Method):
    """Non-learned floor: per-pixel Gaussian of the training images; image score = map maximum."""

    name = "pixel-gaussian"
    kind = "baseline"
    paper = "floor baseline (per-pixel intensity model), no paper"
    track = "anomaly"

    @dataclass(frozen=True)
    class Config:
        """Options of the floor."""

        blur_sigma: float = option(1.0, "Blur of the images before the model, px.", ge=0)
        smooth_sigma: float = option(2.0, "Smoothing of the maps, px.", ge=0)

    def fit(self, train: object, budget: Budget, ctx: Context) -> None:
        """Per-pixel mean and std of the training images."""
        self.mean, self.std = fit_pixel_gaussian(train.images, blur_sigma=self.config.blur_sigma)

    def predict(self, inputs: object) -> Predictions:
        """Maps at the input resolution; score = maximum of the map."""
        maps = pixel_gaussian_maps(
            inputs.images, self.mean, self.std, blur_sigma=self.config.blur_sigma, smooth_sigma=self.config.smooth_sigma
        )
        return Predictions.of(scores=maps.reshape(len(maps), -1).max(axis=1).astype(np.float64), maps=maps)
