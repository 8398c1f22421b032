"""STFPM on anomalib's torch model and loss: a student mimics a frozen teacher (no harness imports).

Wang et al., "Student-Teacher Feature Pyramid Matching for Anomaly Detection", BMVC 2021
(arXiv:2103.04257). anomalib (Apache-2.0) supplies the model (:class:`STFPMModel`: teacher and
student feature pyramids, the product over layers of the per-layer distance of their normalised
features as the map), the loss (:class:`STFPMLoss`) and the optimiser settings this module copies
(SGD, lr 0.4, momentum 0.9, weight decay 1e-3). This module trains it without anomalib's engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from anomalib.models.image.stfpm import torch_model as stfpm_torch_model
from anomalib.models.image.stfpm.loss import STFPMLoss
from torch import nn

from baselines.anomalib_models.trained import TrainedDetector
from baselines.anomalib_models.training import frozen_features, train_steps
from baselines.anomalib_models.weights import load_backbone_weights

__all__ = ["StfpmDetector", "teacher_from_random_init"]


@contextmanager
def teacher_from_random_init() -> Iterator[None]:
    """Build STFPM's teacher with ``pre_trained=False``.

    anomalib's :class:`STFPMModel` always asks timm for the pretrained teacher, a download this
    harness never makes; within this block its feature extractors are built from random init and
    the budget's local weights, if any, are loaded afterwards.
    """
    original = stfpm_torch_model.TimmFeatureExtractor

    def random_init(*args: Any, **kwargs: Any) -> nn.Module:
        return original(*args, **{**kwargs, "pre_trained": False})

    stfpm_torch_model.TimmFeatureExtractor = random_init
    try:
        yield
    finally:
        stfpm_torch_model.TimmFeatureExtractor = original


class StfpmDetector(TrainedDetector):
    """STFPM: a randomly initialised student trained to reproduce the teacher's feature pyramid.

    Args:
        learning_rate: SGD learning rate of the student.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        **options: Step limit, training batch size, backbone, layers, weights, batch size, device
            and seed, see :class:`~baselines.anomalib_models.trained.TrainedDetector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> scores, maps = StfpmDetector(max_steps=2).fit(train).predict(train[:2])
        >>> maps.shape
        (2, 32, 32)
    """

    def __init__(
        self, *, learning_rate: float = 0.4, momentum: float = 0.9, weight_decay: float = 1e-3, **options: object
    ) -> None:
        super().__init__(**options)
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay

    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        with teacher_from_random_init():
            model = stfpm_torch_model.STFPMModel(layers=list(self.layers), backbone=self.backbone)
        load_backbone_weights(
            model.teacher_model.feature_extractor, self.weights, backbone=self.backbone, seed=self.seed
        )
        return model

    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        teacher = frozen_features(
            lambda x: list(model.teacher_model(x).values()), images, batch_size=self.batch_size, device=self.device_
        )
        layers = list(model.teacher_model.layers)
        loss_fn = STFPMLoss()
        optimizer = torch.optim.SGD(
            model.student_model.parameters(),
            lr=self.learning_rate,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            fused=True,
        )

        def loss_of(index: torch.Tensor) -> torch.Tensor:
            student = model.student_model(self._train_batch(images, index))
            target = {layer: feats[index.to(feats.device)] for layer, feats in zip(layers, teacher, strict=True)}
            return loss_fn(target, student)

        self.losses_ = train_steps(loss_of, optimizer, **self._step_options(len(images)))
