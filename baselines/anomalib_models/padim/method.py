"""Adapter of PaDiM (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.anomalib_models.adapter import AnomalibBaseline
from baselines.anomalib_models.padim.model import PadimDetector
from harness.options import option

__all__ = ["Padim"]


class Padim(AnomalibBaseline):
    """PaDiM through anomalib's torch model, on the budget's backbone, layers and weights."""

    name = "padim"
    paper = (
        "Defard et al., PaDiM: a Patch Distribution Modeling Framework for Anomaly Detection and Localization, "
        "ICPR 2020 workshops, arXiv:2011.08785"
    )
    detector_cls = PadimDetector

    @dataclass(frozen=True)
    class Config:
        """Options of PaDiM."""

        n_features: int = option(
            0, "Random channel subset size; 0 = anomalib's default (100 resnet18, 550 wide_resnet50_2).", ge=0
        )
