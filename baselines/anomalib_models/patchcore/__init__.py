"""PatchCore baseline of the anomaly track, through anomalib's torch model (see README.md)."""

from baselines.anomalib_models.patchcore.method import Patchcore

__all__ = ["Patchcore"]
