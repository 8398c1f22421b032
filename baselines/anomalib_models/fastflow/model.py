"""FastFlow on anomalib's torch model and loss: 2D normalising flows on backbone features (no harness imports).

Yu et al., "FastFlow: Unsupervised Anomaly Detection and Localization via 2D Normalizing Flows",
2021 (arXiv:2111.07677). anomalib (Apache-2.0) supplies the model (:class:`FastflowModel`: a frozen
ResNet, a trainable layer norm and a FrEIA flow per stage), the loss (:class:`FastflowLoss`,
negative log-likelihood), the map generator (negative likelihood averaged over stages) and the
optimiser settings this module copies (Adam, lr 1e-3, weight decay 1e-5). This module trains it
without anomalib's engine.

anomalib's model always extracts layer1 to layer3 of a ResNet and builds a flow for each; the flows
of the budget's layers are the ones trained and scored, like every other baseline.
"""

from __future__ import annotations

import numpy as np
import torch
from anomalib.models.image.fastflow.loss import FastflowLoss
from anomalib.models.image.fastflow.torch_model import FastflowModel
from torch import nn

from baselines.anomalib_models.trained import TrainedDetector
from baselines.anomalib_models.training import frozen_features, train_steps
from baselines.anomalib_models.weights import load_backbone_weights

__all__ = ["STAGES", "SUPPORTED_BACKBONES", "FastflowDetector"]

#: The stages anomalib's FastFlow extracts from a ResNet, in order.
STAGES = ("layer1", "layer2", "layer3")
#: The convolutional backbones anomalib's FastFlow supports.
SUPPORTED_BACKBONES = ("resnet18", "wide_resnet50_2")


class FastflowDetector(TrainedDetector):
    """FastFlow: per-stage normalising flows that map good features to a standard normal.

    Args:
        flow_steps: Coupling blocks per flow (the paper uses 8 for ResNet18).
        conv3x3_only: Use 3x3 convolutions only in the coupling subnets (else 3x3 and 1x1 alternate).
        hidden_ratio: Hidden channels of the coupling subnets, as a fraction of the input channels.
        learning_rate: Adam learning rate.
        weight_decay: Adam weight decay.
        **options: Step limit, training batch size, backbone, layers (a subset of layer1 to layer3),
            weights, batch size, device and seed, see :class:`~baselines.anomalib_models.trained.TrainedDetector`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
        >>> scores, maps = FastflowDetector(max_steps=2, flow_steps=2).fit(train).predict(train[:2])
        >>> maps.shape
        (2, 32, 32)
    """

    def __init__(
        self,
        *,
        flow_steps: int = 8,
        conv3x3_only: bool = False,
        hidden_ratio: float = 1.0,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        **options: object,
    ) -> None:
        super().__init__(**options)
        self.flow_steps = flow_steps
        self.conv3x3_only = conv3x3_only
        self.hidden_ratio = hidden_ratio
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay

    def _build(self, image_size: tuple[int, int]) -> nn.Module:
        if self.backbone not in SUPPORTED_BACKBONES:
            msg = (
                f"backbone of FastFlow must be one of {SUPPORTED_BACKBONES} (anomalib's CNN flows); "
                f"got {self.backbone!r}."
            )
            raise ValueError(msg)
        unknown = [layer for layer in self.layers if layer not in STAGES]
        if unknown:
            msg = f"layers of FastFlow must be among {STAGES}; got {tuple(self.layers)}."
            raise ValueError(msg)
        self.used_ = [STAGES.index(layer) for layer in self.layers]
        model = FastflowModel(
            input_size=image_size,
            backbone=self.backbone,
            pre_trained=False,
            flow_steps=self.flow_steps,
            conv3x3_only=self.conv3x3_only,
            hidden_ratio=self.hidden_ratio,
        )
        load_backbone_weights(model.feature_extractor, self.weights, backbone=self.backbone, seed=self.seed)
        return model

    def _flows(self, model: nn.Module, features: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Hidden variables and log-Jacobians of the budget's stages (features: all stages)."""
        hidden, log_jacobians = [], []
        for i in self.used_:
            z, log_jac = model.fast_flow_blocks[i](model.norms[i](features[i]))
            hidden.append(z)
            log_jacobians.append(log_jac)
        return hidden, log_jacobians

    def _backbone(self, model: nn.Module, batch: torch.Tensor) -> list[torch.Tensor]:
        model.feature_extractor.eval()
        return list(model.feature_extractor(batch))

    def _fit(self, model: nn.Module, images: np.ndarray) -> None:
        raw = frozen_features(
            lambda x: self._backbone(model, x), images, batch_size=self.batch_size, device=self.device_
        )
        loss_fn = FastflowLoss()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay, fused=True)

        def loss_of(index: torch.Tensor) -> torch.Tensor:
            return loss_fn(*self._flows(model, [level[index.to(level.device)] for level in raw]))

        self.losses_ = train_steps(loss_of, optimizer, **self._step_options(len(images)))

    def _infer(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, _ = self._flows(model, self._backbone(model, batch))
        amap = model.anomaly_map_generator(hidden)
        return torch.amax(amap, dim=(-2, -1)), amap
