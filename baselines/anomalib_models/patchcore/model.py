"""PatchCore on anomalib's torch model: a coreset memory bank of patch features (no harness imports).

Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022 (arXiv:2106.08265).
anomalib (Apache-2.0) supplies the model (:class:`PatchcoreModel`: locally aggregated backbone
features, nearest-neighbour patch scores, the paper's re-weighted image score, a blurred map) and the
greedy coreset sampler (:class:`KCenterGreedy`); this module drives them without anomalib's engine.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import torch
from anomalib.models.image.patchcore.torch_model import PatchcoreModel
from torch import nn

from baselines.anomalib_models.detector import AnomalibDetector
from baselines.anomalib_models.images import iter_batches
from baselines.anomalib_models.patchcore.coreset import subsample_memory_bank
from baselines.anomalib_models.weights import load_backbone_weights

__all__ = ["PatchcoreDetector"]


class PatchcoreDetector(AnomalibDetector):
    """PatchCore: memory bank of training patch features subsampled by a greedy coreset.

    Args:
        coreset_sampling_ratio: Fraction of the training patches kept in the memory bank, in (0, 1].
        num_neighbors: Memory-bank neighbours used to re-weight the image score (1 = plain maximum).
        **options: Backbone, layers, weights, batch size, device and seed, see
            :class:`~baselines.anomalib_models.detector.AnomalibDetector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> scores, maps = PatchcoreDetector(coreset_sampling_ratio=0.5).fit(train).predict(train[:2])
        >>> scores.shape, maps.shape
        ((2,), (2, 32, 32))
    """

    def __init__(self, *, coreset_sampling_ratio: float = 0.1, num_neighbors: int = 9, **options: object) -> None:
        super().__init__(**options)
        self.coreset_sampling_ratio = coreset_sampling_ratio
        self.num_neighbors = num_neighbors

    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        if not 0.0 < self.coreset_sampling_ratio <= 1.0:
            msg = f"coreset_sampling_ratio of PatchCore must be in (0, 1]; got {self.coreset_sampling_ratio}."
            raise ValueError(msg)
        model = PatchcoreModel(
            layers=list(self.layers), backbone=self.backbone, pre_trained=False, num_neighbors=self.num_neighbors
        )
        load_backbone_weights(
            model.feature_extractor.feature_extractor, self.weights, backbone=self.backbone, seed=self.seed
        )
        return model

    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        with torch.no_grad():
            for batch in iter_batches(images, self.batch_size, self.device_):
                model(batch)  # training mode: appends the batch's patch embeddings to the store
        # anomalib's greedy coreset (same centres, see coreset.py) draws a progress bar per selected centre on
        # stderr (the job's log): silence it.
        with contextlib.redirect_stderr(io.StringIO()):
            subsample_memory_bank(model, self.coreset_sampling_ratio)  # greedy coreset, seeded by fit
