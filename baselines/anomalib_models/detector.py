"""The skeleton every anomalib-backed detector shares: seeded build and fit, batched raw predict.

A detector is a small estimator over uint8 images (no harness imports): ``__init__`` stores its
options, :meth:`AnomalibDetector.fit` builds the anomalib torch model from random init (or local
weights) under the seed and learns from the training images, :meth:`AnomalibDetector.predict`
runs the model in eval mode on batches of test images and returns raw scores and maps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from baselines.anomalib_models.images import check_images, iter_batches
from baselines.anomalib_models.outputs import to_arrays

__all__ = ["AnomalibDetector", "seeded"]


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's and numpy's global generators seeded, restoring them afterwards.

    anomalib draws from torch's global generator (layer initialisation, PaDiM's feature subset,
    the first coreset centre) and from numpy's (the coreset's sparse random projection); seeding
    them here, inside a fork of their state, makes those draws a function of ``seed`` alone
    without disturbing the caller's random state.

    Args:
        seed: Seed of the block.
        device: The device the block computes on (its CUDA generator is forked too).
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    numpy_state = np.random.get_state()  # noqa: NPY002 - anomalib draws from the legacy global state
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)  # noqa: NPY002
            yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002


class AnomalibDetector(ABC):
    """Build, fit and batch-predict one anomalib torch model.

    Args:
        backbone: timm name of the backbone (the budget's).
        layers: Backbone layers the model uses (the budget's).
        weights: Path of a local backbone checkpoint, or None for random init.
        batch_size: Images per forward pass.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:<i>"``.
        seed: Seed of every random draw of ``fit``.
    """

    def __init__(
        self,
        *,
        backbone: str = "resnet18",
        layers: Sequence[str] = ("layer2", "layer3"),
        weights: str | None = None,
        batch_size: int = 16,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        self.backbone = backbone
        self.layers = layers
        self.weights = weights
        self.batch_size = batch_size
        self.device = device
        self.seed = seed

    @abstractmethod
    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        """Return the anomalib torch model on the CPU, with the budget's backbone weights loaded."""

    @abstractmethod
    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        """Learn from uint8 training images of shape (n_images, H, W, 3); ``model`` is on the device."""

    def _infer(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image scores (n,) and anomaly maps (n, 1, h, w) of one batch, from the eval-mode forward."""
        output = model(batch)
        return output.pred_score, output.anomaly_map

    def _check_options(self) -> None:
        name = type(self).__name__
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            msg = f"batch_size of {name} must be a positive int; got {self.batch_size!r}."
            raise ValueError(msg)
        if not self.layers:
            msg = f"layers of {name} must name at least one backbone layer; got {self.layers!r}."
            raise ValueError(msg)

    def fit(self, images: np.ndarray) -> AnomalibDetector:
        """Build the model and learn from good training images.

        Args:
            images: uint8 array of shape (n_images, H, W, 3), RGB, all good.

        Returns:
            The fitted detector.
        """
        images = check_images(images, input_name="images", caller=f"{type(self).__name__}.fit")
        self._check_options()
        self.device_ = torch.device(self.device)
        self.image_size_ = (int(images.shape[1]), int(images.shape[2]))
        with seeded(self.seed, self.device_):
            model = self._build(self.image_size_).to(self.device_)
            model.train()
            self._fit(model, images)
        self.model_ = model.eval()
        return self

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw image scores and anomaly maps of test images, ``batch_size`` images per forward pass.

        Args:
            images: uint8 array of shape (n_images, H, W, 3), the size the detector was fitted on.

        Returns:
            ``(scores, maps)``: float64 array of shape (n_images,) and float32 array of shape
            (n_images, H, W); higher means more anomalous; not normalised.

        Raises:
            RuntimeError: ``fit`` has not run.
            ValueError: The images are malformed or not of the fitted size.
        """
        name = type(self).__name__
        if not hasattr(self, "model_"):
            msg = f"{name} is not fitted; call fit(train_images) before predict."
            raise RuntimeError(msg)
        images = check_images(images, input_name="images", caller=f"{name}.predict")
        if tuple(images.shape[1:3]) != self.image_size_:
            msg = (
                f"images of {name}.predict must be {self.image_size_} like the training images; "
                f"got {images.shape[1:3]}."
            )
            raise ValueError(msg)
        scores, maps = [], []
        with torch.inference_mode():
            for batch in iter_batches(images, self.batch_size, self.device_):
                score, amap = self._infer(self.model_, batch)
                scores.append(score)
                maps.append(amap)
        return to_arrays(scores, maps)
