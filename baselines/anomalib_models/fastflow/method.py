"""Adapter of FastFlow (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.anomalib_models.adapter import AnomalibBaseline, TrainedConfig
from baselines.anomalib_models.fastflow.model import FastflowDetector
from harness.options import option

__all__ = ["Fastflow"]


class Fastflow(AnomalibBaseline):
    """FastFlow through anomalib's torch model and loss, trained for the budget's ``max_steps``."""

    name = "fastflow"
    paper = (
        "Yu et al., FastFlow: Unsupervised Anomaly Detection and Localization via 2D Normalizing Flows, "
        "2021, arXiv:2111.07677"
    )
    detector_cls = FastflowDetector
    learned = True

    @dataclass(frozen=True)
    class Config(TrainedConfig):
        """Options of FastFlow (anomalib's defaults for ResNet18)."""

        flow_steps: int = option(8, "Coupling blocks per flow.", ge=1)
        conv3x3_only: bool = option(False, "Only 3x3 convolutions in the coupling subnets.")
        hidden_ratio: float = option(1.0, "Subnet hidden channels / input channels.", gt=0)
        learning_rate: float = option(1e-3, "Adam learning rate.", gt=0)
        weight_decay: float = option(1e-5, "Adam weight decay.", ge=0)
