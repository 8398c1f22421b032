"""PaDiM baseline of the anomaly track, through anomalib's torch model (see README.md)."""

from baselines.anomalib_models.padim.method import Padim

__all__ = ["Padim"]
