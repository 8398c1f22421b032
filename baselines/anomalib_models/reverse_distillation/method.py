"""Adapter of Reverse Distillation (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass, field

from baselines.anomalib_models.adapter import AnomalibBaseline, TrainedConfig
from baselines.anomalib_models.reverse_distillation.model import ReverseDistillationDetector

__all__ = ["ReverseDistillation"]


class ReverseDistillation(AnomalibBaseline):
    """Reverse Distillation through anomalib's torch model and loss, trained for the budget's ``max_steps``."""

    name = "reverse-distillation"
    paper = (
        "Deng and Li, Anomaly Detection via Reverse Distillation from One-Class Embedding, CVPR 2022, arXiv:2201.10703"
    )
    detector_cls = ReverseDistillationDetector
    learned = True

    @dataclass(frozen=True)
    class Config(TrainedConfig):
        """Options of Reverse Distillation (anomalib's defaults)."""

        anomaly_map_mode: str = field(
            default="add", metadata={"help": "How the per-layer maps combine: 'add' or 'multiply'."}
        )
        learning_rate: float = field(default=0.005, metadata={"help": "Adam learning rate of bottleneck and decoder."})
        betas: tuple[float, float] = field(default=(0.5, 0.99), metadata={"help": "Adam betas."})
