"""PSOL (Zhang et al., "Rethinking the Route Towards Weakly Supervised Object Localization", CVPR 2020).

Two stages: class-agnostic pseudo boxes of the training images by DDT on the features of the stage-1 classifier
(per class, as PSOL uses the image labels of the training set; threshold chosen on the held-out split), then a
single-class box regressor (SCR: one box per image) trained on the largest pseudo box of each image, from the
stage-1 classifier's backbone. Classes come from the stage-1 classifier. PSOL regresses its box with a
separate network from ImageNet weights; here the budget's weights (random init by default) apply to all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.api import Budget, Context, Predictions
from harness.tracks.wsol import boxes as wb
from harness.tracks.wsol.method import BoxRegressor, WsolMethod, regress, train_regressor

__all__ = ["Psol"]


class Psol(WsolMethod):
    """DDT pseudo boxes + single-class box regression; classes from the stage-1 classifier."""

    name = "psol"
    kind = "baseline"
    paper = "Zhang et al., CVPR 2020 (arXiv:2002.11359)"

    @dataclass(frozen=True)
    class Config:
        """PSOL has no option of its own here: the budget fixes the networks and the schedule."""

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Classifier, DDT pseudo boxes, then the regressor on the largest pseudo box of every image."""
        self.setup(budget, ctx)
        self.fit_classifier(train)
        pseudo = self.pseudo_boxes(train)
        targets = np.stack([b[0] for b in pseudo.boxes])
        torch.manual_seed(self.seed + 1)
        self.regressor = BoxRegressor(self.localizer_backbone(), train.images.shape[1]).to(self.device)
        train_regressor(self.regressor, train.images, targets, budget, seed=self.seed, device=self.device,
                        log=ctx.log)

    def predict(self, inputs: Any) -> Predictions:
        """Logits of the classifier; one regressed box per image, rasterised as the map."""
        logits, _, _ = self.classify(inputs.images)
        size = inputs.images.shape[1]
        box = regress(self.regressor, inputs.images, self.budget.batch_size, self.device)
        packed = wb.pack_boxes([(box[i : i + 1], np.ones(1)) for i in range(len(box))], self.budget.max_boxes)
        maps = wb.rasterize_boxes(packed["boxes"], packed["box_scores"], packed["n_boxes"], size)
        return Predictions.of(class_scores=logits, maps=maps, **packed)
