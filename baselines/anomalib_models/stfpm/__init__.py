"""STFPM baseline of the anomaly track, through anomalib's torch model (see README.md)."""

from baselines.anomalib_models.stfpm.method import Stfpm

__all__ = ["Stfpm"]
