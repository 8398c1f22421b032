"""Adapter of BCD + WE (arXiv:2308.06161) to the ``wsol`` track.

Xu et al., "Rethinking the Localization in Weakly Supervised Object Localization", ACM MM 2023.

``fit``: (1) the stage-1 classifier on image labels (shared recipe of the track); (2) class-agnostic pseudo boxes
of every training image: DDT on the classifier's features, every component above the threshold chosen on the
held-out split a box, so an image may get several; (3) the images are ranked by the quality of their pseudo
boxes (contrast of the DDT map inside against outside): the best ``labelled_share`` keep their boxes, the rest
are the unlabelled set; (4) the localiser: the binary-class detector (FCOS, one foreground class, several
boxes per image) trained on the kept boxes plus ``we_weight`` x the weighted-entropy loss on the unlabelled
images; or, for the SCR ablation, a single-class box regressor trained on the kept images' largest boxes (WE
needs per-location foreground probabilities, which a regressor has not, so it runs without). ``predict``:
classes from the classifier, boxes (and the foreground map) from the localiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.api import Budget, Context, Predictions
from harness.options import option
from harness.tracks.wsol import boxes as wb
from harness.tracks.wsol.method import BoxRegressor, WsolMethod, regress, train_regressor
from methods.bcd_we.detector import build_detector, detect, train_detector

__all__ = ["BcdWe"]

LOCALIZERS = ("bcd", "scr")


class BcdWe(WsolMethod):
    """Pseudo boxes, a binary-class detector trained on the trusted ones, weighted entropy on the others."""

    name = "bcd-we"
    kind = "method"
    paper = "arXiv:2308.06161"

    @dataclass(frozen=True)
    class Config:
        """Options of BCD + WE; the ablations of the registry override ``we_weight`` and ``localizer``."""

        localizer: str = option("bcd", "bcd: binary-class detector; scr: single-class regression (ablation).",
                                choices=LOCALIZERS)
        we_weight: float = option(1.0, "Weight of the weighted-entropy loss on unlabelled images (0: off).", ge=0)
        labelled_share: float = option(
            0.6, "Share of training images, best pseudo boxes first, whose boxes train the localiser.", gt=0, le=1
        )
        head_convs: int = option(2, "Convolutions per detector head branch.", ge=1)
        nms_iou: float = option(0.5, "IoU of the detector's non-maximum suppression.", gt=0, le=1)

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Classifier, pseudo boxes, the labelled/unlabelled split, then the localiser."""
        self.setup(budget, ctx)
        cfg = self.config
        self.fit_classifier(train)
        pseudo = self.pseudo_boxes(train)
        order = np.argsort(-pseudo.quality, kind="stable")
        n_labelled = max(1, round(cfg.labelled_share * len(order)))
        labelled, unlabelled = np.sort(order[:n_labelled]), np.sort(order[n_labelled:])
        ctx.log.info("%d images keep their pseudo boxes, %d are unlabelled", len(labelled), len(unlabelled))
        torch.manual_seed(self.seed + 1)
        if cfg.localizer == "scr":
            self.localizer = BoxRegressor(self.localizer_backbone(), train.images.shape[1]).to(self.device)
            targets = np.stack([pseudo.boxes[i][0] for i in labelled])
            train_regressor(self.localizer, train.images[labelled], targets, budget, seed=self.seed,
                            device=self.device, log=ctx.log)
            return
        self.localizer = build_detector(
            self.localizer_backbone(), train.images.shape[1], max_boxes=budget.max_boxes, head_convs=cfg.head_convs,
            nms_iou=cfg.nms_iou,
        ).to(self.device)
        train_detector(
            self.localizer, train.images[labelled], [pseudo.boxes[i] for i in labelled], train.images[unlabelled],
            budget, we_weight=cfg.we_weight, seed=self.seed, device=self.device, log=ctx.log,
        )

    def predict(self, inputs: Any) -> Predictions:
        """Classes from the classifier; boxes and the map from the detector (or the regressor's one box)."""
        logits, _, _ = self.classify(inputs.images)
        size = inputs.images.shape[1]
        if self.config.localizer == "scr":
            box = regress(self.localizer, inputs.images, self.budget.batch_size, self.device)
            packed = wb.pack_boxes([(box[i : i + 1], np.ones(1)) for i in range(len(box))], self.budget.max_boxes)
            maps = wb.rasterize_boxes(packed["boxes"], packed["box_scores"], packed["n_boxes"], size)
        else:
            found, maps = detect(self.localizer, inputs.images, self.budget.batch_size, self.device)
            packed = wb.pack_boxes(found, self.budget.max_boxes)
        return Predictions.of(class_scores=logits, maps=maps.astype(np.float32), **packed)
