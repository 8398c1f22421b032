"""Adapter of Reverse Distillation (through anomalib) to the anomaly track."""

from __future__ import annotations

from dataclasses import dataclass

from baselines.anomalib_models.adapter import AnomalibBaseline, TrainedConfig
from baselines.anomalib_models.reverse_distillation.model import ReverseDistillationDetector
from harness.options import option

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

        anomaly_map_mode: str = option(
            "add", "How the per-layer maps combine: 'add' or 'multiply'.", choices=("add", "multiply")
        )
        learning_rate: float = option(0.005, "Adam learning rate of bottleneck and decoder.", gt=0)
        betas: tuple[float, float] = option((0.5, 0.99), "Adam betas.")
