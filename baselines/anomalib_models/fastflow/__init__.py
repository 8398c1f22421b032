"""FastFlow baseline of the anomaly track, through anomalib's torch model (see README.md)."""

from baselines.anomalib_models.fastflow.method import Fastflow

__all__ = ["Fastflow"]
