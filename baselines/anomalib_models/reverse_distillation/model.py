"""Reverse Distillation on anomalib's torch model and loss (no harness imports).

Deng and Li, "Anomaly Detection via Reverse Distillation from One-Class Embedding", CVPR 2022
(arXiv:2201.10703). anomalib (Apache-2.0) supplies the model (:class:`ReverseDistillationModel`:
frozen encoder, one-class bottleneck (OCBE) fusing layer1 to layer3, a reversed ResNet decoder),
the cosine loss (:class:`ReverseDistillationLoss`), the map generator and the optimiser settings
this module copies (Adam, lr 0.005, betas (0.5, 0.99)). This module trains it without anomalib's engine.

The bottleneck fuses the three stages layer1, layer2 and layer3 by design, so the encoder always
extracts them; the loss and the anomaly map use only the budget's layers, like every other baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from anomalib.models.image.reverse_distillation.anomaly_map import AnomalyMapGenerationMode
from anomalib.models.image.reverse_distillation.loss import ReverseDistillationLoss
from anomalib.models.image.reverse_distillation.torch_model import ReverseDistillationModel
from torch import nn

from baselines.anomalib_models.trained import TrainedDetector
from baselines.anomalib_models.training import frozen_features, train_steps
from baselines.anomalib_models.weights import load_backbone_weights

__all__ = ["ENCODER_LAYERS", "ReverseDistillationDetector"]

#: The encoder stages the one-class bottleneck fuses.
ENCODER_LAYERS = ("layer1", "layer2", "layer3")
#: Ways anomalib combines the per-layer maps.
MAP_MODES = ("add", "multiply")


class ReverseDistillationDetector(TrainedDetector):
    """Reverse Distillation: a decoder learns to rebuild the frozen encoder's features of good images.

    Args:
        anomaly_map_mode: How the per-layer maps (1 - cosine similarity) combine: ``"add"`` or ``"multiply"``.
        learning_rate: Adam learning rate of the bottleneck and decoder.
        betas: Adam betas.
        **options: Step limit, training batch size, backbone, layers (a subset of layer1 to layer3),
            weights, batch size, device and seed, see :class:`~baselines.anomalib_models.trained.TrainedDetector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> scores, maps = ReverseDistillationDetector(max_steps=2).fit(train).predict(train[:2])
        >>> maps.shape
        (2, 32, 32)
    """

    def __init__(
        self,
        *,
        anomaly_map_mode: str = "add",
        learning_rate: float = 0.005,
        betas: Sequence[float] = (0.5, 0.99),
        **options: object,
    ) -> None:
        super().__init__(**options)
        self.anomaly_map_mode = anomaly_map_mode
        self.learning_rate = learning_rate
        self.betas = betas

    def _used(self) -> list[int]:
        unknown = [layer for layer in self.layers if layer not in ENCODER_LAYERS]
        if unknown:
            msg = (
                f"layers of Reverse Distillation must be among {ENCODER_LAYERS} (its bottleneck fuses "
                f"exactly these); got {tuple(self.layers)}."
            )
            raise ValueError(msg)
        return [ENCODER_LAYERS.index(layer) for layer in self.layers]

    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        self.used_ = self._used()
        if self.anomaly_map_mode not in MAP_MODES:
            msg = f"anomaly_map_mode of Reverse Distillation must be one of {MAP_MODES}; got {self.anomaly_map_mode!r}."
            raise ValueError(msg)
        try:
            model = ReverseDistillationModel(
                backbone=self.backbone,
                input_size=image_size,
                layers=list(ENCODER_LAYERS),
                anomaly_map_mode=AnomalyMapGenerationMode(self.anomaly_map_mode),
                pre_trained=False,
            )
        except ValueError as exc:
            msg = f"backbone {self.backbone!r} has no Reverse Distillation decoder in anomalib ({exc}); use a ResNet."
            raise ValueError(msg) from exc
        load_backbone_weights(model.encoder.feature_extractor, self.weights, backbone=self.backbone, seed=self.seed)
        return model

    def _encode(self, model: nn.Module, batch: torch.Tensor) -> list[torch.Tensor]:
        return list(model.encoder(batch).values())

    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        encoded = frozen_features(
            lambda x: self._encode(model, x), images, batch_size=self.batch_size, device=self.device_
        )
        loss_fn = ReverseDistillationLoss()
        params = [*model.bottleneck.parameters(), *model.decoder.parameters()]
        optimizer = torch.optim.Adam(params, lr=self.learning_rate, betas=tuple(self.betas), fused=True)

        def loss_of(index: torch.Tensor) -> torch.Tensor:
            features = [level[index.to(level.device)] for level in encoded]
            decoded = model.decoder(model.bottleneck(features))
            return loss_fn([features[i] for i in self.used_], [decoded[i] for i in self.used_])

        self.losses_ = train_steps(loss_of, optimizer, **self._step_options(len(images)))

    def _infer(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self._encode(model, batch)
        decoded = model.decoder(model.bottleneck(features))
        amap = model.anomaly_map_generator([features[i] for i in self.used_], [decoded[i] for i in self.used_])
        return torch.amax(amap, dim=(-2, -1)), amap
