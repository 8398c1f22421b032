"""Adapter of PatchCore (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.anomalib_models.adapter import AnomalibBaseline
from baselines.anomalib_models.patchcore.model import PatchcoreDetector
from harness.options import option

__all__ = ["Patchcore"]


class Patchcore(AnomalibBaseline):
    """PatchCore through anomalib's torch model, on the budget's backbone, layers and weights."""

    name = "patchcore"
    paper = "Roth et al., Towards Total Recall in Industrial Anomaly Detection, CVPR 2022, arXiv:2106.08265"
    detector_cls = PatchcoreDetector

    @dataclass(frozen=True)
    class Config:
        """Options of PatchCore (anomalib's defaults)."""

        coreset_sampling_ratio: float = option(
            0.1, "Fraction of the training patch features kept in the memory bank, (0, 1].", gt=0, le=1
        )
        num_neighbors: int = option(
            9, "Memory-bank neighbours that re-weight the image score (1 = plain maximum).", ge=1
        )
