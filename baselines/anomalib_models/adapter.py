"""The adapter of the anomalib-backed detectors to the harness's :class:`~harness.api.Method` contract.

Every baseline takes the budget's backbone, layers, weights, batch size and (learned ones) step
limit, and the job's device, seed and thread count; its own options come from its frozen
``Config`` dataclass, whose field names are the detector's keyword arguments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from baselines.anomalib_models.detector import AnomalibDetector
from baselines.anomalib_models.memory import pin_mmap_threshold
from baselines.anomalib_models.trained import DEFAULT_TRAIN_BATCH_SIZE
from harness.api import Budget, Context, Method, Predictions
from harness.backbones import is_random
from harness.options import option

__all__ = ["AnomalibBaseline", "TrainedConfig"]


@dataclass(frozen=True)
class TrainedConfig:
    """Options every learned baseline shares; their ``Config`` classes extend it."""

    train_batch_size: int = option(
        DEFAULT_TRAIN_BATCH_SIZE,
        "Images per optimizer step, at most the budget's batch_size; 0 = the budget's batch_size.", ge=0,
    )


class AnomalibBaseline(Method):
    """Fit an anomalib-backed detector on the training images, predict raw scores and maps.

    Subclasses set ``name``, ``paper``, ``Config`` and :attr:`detector_cls`; learned ones set
    :attr:`learned` so that the budget's ``max_steps`` reaches the detector.
    """

    kind = "baseline"
    track = "anomaly"
    detector_cls: ClassVar[type[AnomalibDetector]]
    learned: ClassVar[bool] = False

    def _detector(self, budget: Budget, ctx: Context) -> AnomalibDetector:
        options: dict[str, Any] = dataclasses.asdict(self.config)
        if self.learned:
            options["max_steps"] = int(budget.max_steps)
        weights = None if is_random(budget.weights) else str(budget.weights)
        return self.detector_cls(
            backbone=budget.backbone,
            layers=tuple(budget.layers),
            weights=weights,
            batch_size=int(budget.batch_size),
            device=ctx.device,
            seed=int(ctx.seed),
            **options,
        )

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Build the detector from the budget and the job's context, then fit it on ``train.images``.

        The job owns its process: the thread count is set to ``ctx.n_threads`` and glibc's mmap
        threshold is pinned (see :mod:`~baselines.anomalib_models.memory`).
        """
        import torch

        torch.set_num_threads(max(1, int(ctx.n_threads)))
        pin_mmap_threshold()
        self.detector_ = self._detector(budget, ctx).fit(train.images)
        losses = getattr(self.detector_, "losses_", None)
        if losses:
            ctx.log.info("%s: %d steps, loss %.4g -> %.4g", self.name, len(losses), losses[0], losses[-1])

    def predict(self, inputs: Any) -> Predictions:
        """Raw image ``scores`` (float64, (n_images,)) and ``maps`` (float32, (n_images, S, S))."""
        if not hasattr(self, "detector_"):
            msg = f"method {self.name!r} is not fitted; call fit(train, budget, ctx) before predict."
            raise RuntimeError(msg)
        scores, maps = self.detector_.predict(inputs.images)
        return Predictions.of(scores=scores, maps=maps)
