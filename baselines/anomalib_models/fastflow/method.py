"""Adapter of FastFlow (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass, field

from baselines.anomalib_models.adapter import AnomalibBaseline, TrainedConfig
from baselines.anomalib_models.fastflow.model import FastflowDetector

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

        flow_steps: int = field(default=8, metadata={"help": "Coupling blocks per flow."})
        conv3x3_only: bool = field(default=False, metadata={"help": "Only 3x3 convolutions in the coupling subnets."})
        hidden_ratio: float = field(default=1.0, metadata={"help": "Subnet hidden channels / input channels."})
        learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate."})
        weight_decay: float = field(default=1e-5, metadata={"help": "Adam weight decay."})
