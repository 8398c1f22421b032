"""The centre-box floor: one centred square per image, its side chosen on the held-out split; no classifier.

It is the localisation any method must beat: photographs are framed around their subject, so a fixed box does
better than chance. Its class scores are all equal (ties count against the true class, so its Top-1 Loc and
Top-1 Cls are 0: it localises, it does not classify).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions
from harness.metrics.localization import corloc
from harness.options import option
from harness.tracks.wsol import boxes as wb

__all__ = ["CenterBox"]


class CenterBox(Method):
    """A centred square whose side (a share of the image side) maximises held-out GT-known accuracy."""

    name = "center-box"
    kind = "baseline"
    paper = "floor (Choe et al., CVPR 2020, report a centre-gaussian baseline)"
    track = "wsol"

    @dataclass(frozen=True)
    class Config:
        """Options of the centre box."""

        n_sizes: int = option(19, "Box sides tried, evenly from 10 % to 100 % of the image side.", ge=1)

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Choose the side on the held-out split (ties: the smallest side)."""
        size = train.val_images.shape[1]
        self.n_classes = train.n_classes
        self.max_boxes = budget.max_boxes
        fractions = np.linspace(0.1, 1.0, self.config.n_sizes)
        accuracy = [corloc(wb.center_boxes(len(train.val_boxes), size, f), train.val_boxes) for f in fractions]
        self.fraction = float(fractions[int(np.argmax(accuracy))])
        ctx.log.info("centre box side %.2f of the image: held-out GT-known %.3f", self.fraction, max(accuracy))

    def predict(self, inputs: Any) -> Predictions:
        """The same box, equal class scores, the box rasterised as the map."""
        n_images, size = len(inputs.images), inputs.images.shape[1]
        box = wb.center_boxes(n_images, size, self.fraction)
        packed = wb.pack_boxes([(box[i : i + 1], np.ones(1)) for i in range(n_images)], self.max_boxes)
        maps = wb.rasterize_boxes(packed["boxes"], packed["box_scores"], packed["n_boxes"], size)
        return Predictions.of(class_scores=np.zeros((n_images, self.n_classes), dtype=np.float32), maps=maps,
                              **packed)
