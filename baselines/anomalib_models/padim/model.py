"""PaDiM on anomalib's torch model: one multivariate Gaussian per patch position (no harness imports).

Defard et al., "PaDiM: a Patch Distribution Modeling Framework for Anomaly Detection and
Localization", ICPR 2020 workshops (arXiv:2011.08785). anomalib (Apache-2.0) supplies the model
(:class:`PadimModel`: concatenated multi-layer features, a random subset of their channels, a
Gaussian per position with a regularised covariance, Mahalanobis maps blurred and upsampled);
this module drives it without anomalib's engine.
"""

from __future__ import annotations

import numpy as np
import torch
from anomalib.models.image.padim.torch_model import PadimModel
from torch import nn

from baselines.anomalib_models.detector import AnomalibDetector
from baselines.anomalib_models.images import iter_batches
from baselines.anomalib_models.weights import load_backbone_weights

__all__ = ["PadimDetector"]


class PadimDetector(AnomalibDetector):
    """PaDiM: per-position Gaussian of a random channel subset of the backbone features.

    Args:
        n_features: Channels kept after the random subset; 0 = anomalib's default for the
            backbone (100 for resnet18, 550 for wide_resnet50_2, the paper's values).
        **options: Backbone, layers, weights, batch size, device and seed, see
            :class:`~baselines.anomalib_models.detector.AnomalibDetector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> scores, maps = PadimDetector().fit(train).predict(train[:2])
        >>> scores.dtype, maps.dtype
        (dtype('float64'), dtype('float32'))
    """

    def __init__(self, *, n_features: int = 0, **options: object) -> None:
        super().__init__(**options)
        self.n_features = n_features

    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        # The channel subset is drawn from torch's global generator, seeded by fit.
        model = PadimModel(
            backbone=self.backbone, layers=list(self.layers), pre_trained=False, n_features=self.n_features or None
        )
        load_backbone_weights(
            model.feature_extractor.feature_extractor, self.weights, backbone=self.backbone, seed=self.seed
        )
        return model

    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        with torch.no_grad():
            for batch in iter_batches(images, self.batch_size, self.device_):
                model(batch)  # training mode: appends the batch's embeddings to the memory bank
            model.fit()  # mean and inverse covariance per position
