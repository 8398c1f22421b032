"""Base of the learned detectors: a step limit and the batch size of an optimizer step."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from baselines.anomalib_models.detector import AnomalibDetector
from baselines.anomalib_models.images import to_model_input

__all__ = ["DEFAULT_TRAIN_BATCH_SIZE", "TrainedDetector"]

#: Images per optimizer step of every learned baseline unless its config says otherwise.
DEFAULT_TRAIN_BATCH_SIZE = 4


class TrainedDetector(AnomalibDetector):
    """A detector that trains for exactly ``max_steps`` optimizer steps on the training images.

    Args:
        max_steps: Optimizer steps (the budget's limit); no validation and no early stopping.
        train_batch_size: Images per optimizer step, at most ``batch_size``; 0 = ``batch_size``.
            Prediction and the frozen-feature cache always use ``batch_size``.
        **options: Backbone, layers, weights, batch size, device and seed, see
            :class:`~baselines.anomalib_models.detector.AnomalibDetector`.
    """

    def __init__(
        self, *, max_steps: int = 150, train_batch_size: int = DEFAULT_TRAIN_BATCH_SIZE, **options: Any
    ) -> None:
        super().__init__(**options)
        self.max_steps = max_steps
        self.train_batch_size = train_batch_size

    def _check_options(self) -> None:
        super()._check_options()
        name = type(self).__name__
        if not isinstance(self.max_steps, int) or self.max_steps < 0:
            msg = f"max_steps of {name} must be a non-negative int; got {self.max_steps!r}."
            raise ValueError(msg)
        if not isinstance(self.train_batch_size, int) or self.train_batch_size < 0:
            msg = (
                f"train_batch_size of {name} must be a non-negative int (0 = batch_size); "
                f"got {self.train_batch_size!r}."
            )
            raise ValueError(msg)

    def _step_options(self, n_images: int) -> dict[str, int]:
        """Keyword arguments of :func:`~baselines.anomalib_models.training.train_steps`."""
        return {
            "n_images": n_images,
            "batch_size": min(self.train_batch_size, self.batch_size) if self.train_batch_size else self.batch_size,
            "n_steps": self.max_steps,
            "seed": self.seed,
        }

    def _train_batch(self, images: np.ndarray, index: torch.Tensor) -> torch.Tensor:
        """The normalised training images ``index`` (int64, (n_batch,)) as a batch on the device."""
        return to_model_input(images[index.numpy()], self.device_)
