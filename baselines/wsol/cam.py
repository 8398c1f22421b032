"""CAM (Zhou et al., CVPR 2016) and Hide-and-Seek (Singh and Lee, ICCV 2017) on the track's classifier.

``fit`` trains the budget's classifier on image labels (with Hide-and-Seek: random grid cells hidden in every
training image, so the network must also use the less discriminative parts) and picks the CAM threshold on the
held-out split (GT-known accuracy of the top box, the protocol of Choe et al.). ``predict`` returns the logits,
the CAM of the top-1 class (test labels never reach a method) and the boxes of its components above the
threshold, the largest score mass first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from harness.api import Budget, Context, Predictions
from harness.options import option
from harness.tracks.wsol import boxes as wb
from harness.tracks.wsol import nets
from harness.tracks.wsol.method import WsolMethod

__all__ = ["Cam"]


class Cam(WsolMethod):
    """Class activation maps of a GAP classifier; ``hide_probability`` > 0 trains it with Hide-and-Seek."""

    name = "cam"
    kind = "baseline"
    paper = "Zhou et al., CVPR 2016 (CAM); Singh and Lee, ICCV 2017 (Hide-and-Seek)"

    @dataclass(frozen=True)
    class Config:
        """Options of CAM and Hide-and-Seek."""

        hide_probability: float = option(0.0, "Chance of each grid cell to be hidden in training (0: plain CAM).",
                                         ge=0, lt=1)
        hide_grid: int = option(4, "Hide-and-Seek cells per image side.", ge=1)
        min_share: float = option(
            0.2, "Components whose CAM mass is below this share of the largest give no box.", ge=0, le=1
        )

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Train the classifier (with hiding when configured); choose the CAM threshold on the held-out split."""
        self.setup(budget, ctx)
        cfg = self.config
        transform = None
        if cfg.hide_probability > 0:
            transform = partial(nets.hide_patches, grid=cfg.hide_grid, probability=cfg.hide_probability)
        self.fit_classifier(train, transform=transform)
        _, val_cams, _ = nets.class_scores_and_cams(
            self.classifier, train.val_images, budget.batch_size, self.device, labels=train.val_labels
        )
        self.threshold, accuracy = wb.choose_threshold(wb.resize_maps(val_cams, train.val_images.shape[1]),
                                                      train.val_boxes)
        ctx.log.info("CAM threshold %.2f: held-out GT-known %.3f", self.threshold, accuracy.max())

    def predict(self, inputs: Any) -> Predictions:
        """Logits, top-1 CAMs and their component boxes."""
        logits, cams, _ = self.classify(inputs.images)
        found = [
            wb.map_boxes(m, self.threshold, max_boxes=self.budget.max_boxes, min_share=self.config.min_share)
            for m in cams
        ]
        return Predictions.of(class_scores=logits, maps=cams.astype(np.float32),
                              **wb.pack_boxes(found, self.budget.max_boxes))
