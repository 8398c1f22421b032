"""Reverse Distillation baseline of the anomaly track, through anomalib's torch model (see README.md)."""

from baselines.anomalib_models.reverse_distillation.method import ReverseDistillation

__all__ = ["ReverseDistillation"]
