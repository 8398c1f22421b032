"""AMMDNN behind the teaching track's contract: inputs as modality blocks, the training loop, the ablations.

Zhou, Jia, Yin, Li, Yao, Zhang, Ye, Lei, Huang, Shen, "Understanding the Teaching Styles by an Attention based
Multi-task Cross-media Dimensional Modelling", ACM Multimedia 2019, arXiv:1911.07253. See README.md for what the
paper gives and what this implementation chose.

Missing modalities: masked. A path receives its modality's imputed features (0, the training mean after the
track's standardisation) and a presence flag; the attention gives an absent modality weight exactly 0 and shares
the weight among the present ones (without attention, an absent path's output is zeroed). In training, each
present modality of an item is also hidden with probability ``modality_dropout`` (never all of them), so the
network learns to predict from any subset, which missing data and the drop-one evaluation both ask of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.api import Budget, Context
from harness.options import option
from harness.tracks.teaching.method import TeachingMethod, impute, present
from methods.ammdnn.model import AmmdnnNet, ccc_loss

__all__ = ["Ammdnn"]


class Ammdnn(TeachingMethod):
    """Attention-based multi-path multi-task network; ablations through ``attention``, ``multi_task``, ``paths``."""

    name = "ammdnn"
    kind = "method"
    paper = "arXiv:1911.07253"

    @dataclass(frozen=True)
    class Config:
        """Options of AMMDNN (the budget fixes epochs, batch size, learning rate, weight decay and width)."""

        loss: str = option("ccc", "Training loss: 1 - CCC per target on the batch, or mean squared error.",
                           choices=("ccc", "mse"))
        attention: bool = option(True, "Attention over the modality paths (False: concatenate them).")
        multi_task: bool = option(True, "One network with a head per target (False: one network per target).")
        paths: bool = option(True, "One path per modality (False: one path on all modalities concatenated).")
        dropout: float = option(0.1, "Dropout in the paths and the shared layers.", ge=0, lt=1)
        modality_dropout: float = option(0.15, "Probability of hiding a present modality of a training item.",
                                         ge=0, lt=1)

    def _blocks(self, data: Any, keep: np.ndarray | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Network inputs: per modality (imputed features, flag) or one early-fusion block; the presence mask."""
        has = present(data, self.modalities).astype(bool)
        if keep is not None:
            has = has & keep
        blocks = []
        for k, modality in enumerate(self.modalities):
            values = impute(data.features[modality]) * has[:, k : k + 1]
            blocks.append(np.concatenate([values, has[:, k : k + 1]], axis=1))
        if not self.config.paths:
            blocks, has = [np.concatenate(blocks, axis=1)], has.any(axis=1, keepdims=True)
        tensors = [torch.as_tensor(b, dtype=torch.float32, device=self.device_) for b in blocks]
        return tensors, torch.as_tensor(has, device=self.device_)

    def _forward(self, blocks: list[torch.Tensor], mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        outputs = [net(blocks, mask) for net in self.nets_]
        pred = torch.cat([o[0] for o in outputs], dim=1)
        return pred, outputs[0][1]

    def learn(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Train the network(s) for the budget's epochs with Adam on standardised targets."""
        cfg = self.config
        torch.manual_seed(ctx.seed)
        torch.set_num_threads(max(1, ctx.n_threads))
        self.device_ = torch.device(ctx.device)
        rng = np.random.default_rng(ctx.seed)
        self.mean_, std = train.targets.mean(axis=0), train.targets.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        targets = torch.as_tensor((train.targets - self.mean_) / self.scale_, dtype=torch.float32, device=self.device_)
        widths = ([train.features[m].shape[1] + 1 for m in self.modalities] if cfg.paths
                  else [sum(train.features[m].shape[1] + 1 for m in self.modalities)])
        heads = [self.n_targets] if cfg.multi_task else [1] * self.n_targets
        self.nets_ = torch.nn.ModuleList(
            AmmdnnNet(widths, h, budget.hidden, attention=cfg.attention and cfg.paths, dropout=cfg.dropout)
            for h in heads
        ).to(self.device_)
        optimiser = torch.optim.Adam(self.nets_.parameters(), lr=budget.learning_rate, weight_decay=budget.weight_decay)
        has = present(train, self.modalities).astype(bool)
        n = len(train)
        batch = min(budget.batch_size, n)
        self.nets_.train()
        for epoch in range(budget.epochs):
            order = rng.permutation(n)
            keep = rng.random(has.shape) >= cfg.modality_dropout
            kept = has & keep
            lost = ~kept.any(axis=1)
            keep[lost] = True  # never hide every modality of an item
            blocks, mask = self._blocks(train, keep)
            total = 0.0
            for start in range(0, n - batch + 1, batch):  # full batches only: a CCC of 1 item is undefined
                rows = torch.as_tensor(order[start : start + batch], device=self.device_)
                pred, _ = self._forward([b[rows] for b in blocks], mask[rows])
                loss = ccc_loss(pred, targets[rows]) if cfg.loss == "ccc" else torch.mean((pred - targets[rows]) ** 2)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach())
            if epoch == budget.epochs - 1 or epoch % 20 == 0:
                ctx.log.info("epoch %d: mean training loss %.4f", epoch + 1, total / max(1, n // batch))
        self.nets_.eval()

    @torch.no_grad()
    def predict_targets(self, inputs: Any) -> np.ndarray:
        """Predicted targets (n, t) in the targets' unit."""
        pred, _ = self._forward(*self._blocks(inputs))
        return pred.cpu().numpy().astype(np.float64) * self.scale_ + self.mean_

    @torch.no_grad()
    def attention_weights(self, inputs: Any) -> np.ndarray:
        """Attention over the modalities (n, n_modalities) of the (first) network; raises without attention."""
        _, weights = self._forward(*self._blocks(inputs))
        if weights is None:
            msg = "this AMMDNN variant has no attention (attention=False or paths=False)."
            raise ValueError(msg)
        return weights.cpu().numpy().astype(np.float64)
