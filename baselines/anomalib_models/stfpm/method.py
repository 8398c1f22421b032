"""Adapter of STFPM (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.anomalib_models.adapter import AnomalibBaseline, TrainedConfig
from baselines.anomalib_models.stfpm.model import StfpmDetector
from harness.options import option

__all__ = ["Stfpm"]


class Stfpm(AnomalibBaseline):
    """STFPM through anomalib's torch model and loss, trained for the budget's ``max_steps``."""

    name = "stfpm"
    paper = "Wang et al., Student-Teacher Feature Pyramid Matching for Anomaly Detection, BMVC 2021, arXiv:2103.04257"
    detector_cls = StfpmDetector
    learned = True

    @dataclass(frozen=True)
    class Config(TrainedConfig):
        """Options of STFPM (optimiser: anomalib's defaults)."""

        learning_rate: float = option(0.4, "SGD learning rate of the student.", gt=0)
        momentum: float = option(0.9, "SGD momentum.", ge=0)
        weight_decay: float = option(1e-3, "SGD weight decay.", ge=0)
