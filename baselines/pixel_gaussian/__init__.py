"""Per-pixel Gaussian floor baseline of the anomaly track (non-learned)."""

from baselines.pixel_gaussian.method import PixelGaussian

__all__ = ["PixelGaussian"]
