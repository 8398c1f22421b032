"""Baselines that leave the image tower alone: zero-shot CLIP, a linear probe, CoOp and CoCoOp.

All of them score frozen image features (computed once per image array) against class weights:

======================  ==================================================================================
method                  class weights
======================  ==================================================================================
:class:`ZeroShot`       text features of the hand-written template ``"a photo of a {}."`` (CLIP)
:class:`LinearProbe`    scikit-learn's logistic regression on the image features (CLIP's linear probe);
                        classes it never saw (the novel ones) are scored by the zero-shot weights
:class:`CoOp`           text features of ``[ctx_1 .. ctx_n] <class>.``, ``n_ctx`` learned vectors shared by
                        every class (CoOp, Zhou et al., IJCV 2022, arXiv 2109.01134)
:class:`CoCoOp`         as CoOp, each context vector shifted by a meta-net of the image feature
                        (Linear - ReLU - Linear, hidden width embed_dim / 16; CoCoOp, CVPR 2022,
                        arXiv 2203.05557)
======================  ==================================================================================

Logits are CLIP's: the frozen temperature times the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.options import option
from harness.tracks.prompt.method import PromptMethod, Scorer, TextContext, optimise

__all__ = ["CoCoOp", "CoOp", "LinearProbe", "ZeroShot"]


class ZeroShot(PromptMethod):
    """Zero-shot CLIP with the hand-written template (no training)."""

    name = "zero-shot"
    kind = "baseline"
    paper = "Radford et al., ICML 2021 (CLIP), arXiv 2103.00020"

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Nothing to train: score against the template's text features."""

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            return self.clip_.logit_scale * self.image_features(test) @ self.zero_shot_weights(names).T

        return score


class LinearProbe(PromptMethod):
    """Logistic regression on frozen image features (CLIP's linear probe); unseen classes scored zero-shot."""

    name = "linear-probe"
    kind = "baseline"
    paper = "Radford et al., ICML 2021 (CLIP linear probe), arXiv 2103.00020"

    @dataclass(frozen=True)
    class Config:
        """Options of the linear probe."""

        c: float = option(1.0, "Inverse L2 regularisation strength of the logistic regression.", gt=0)

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Fit scikit-learn's ``LogisticRegression`` (lbfgs) on the L2-normalised image features."""
        from sklearn.linear_model import LogisticRegression

        features = self.image_features(images).numpy()
        seen = tuple(class_names)
        present = np.unique(labels)
        model = LogisticRegression(C=self.config.c, max_iter=1000, random_state=seed)
        model.fit(features, labels) if len(present) > 1 else None

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            feats = self.image_features(test)
            out = self.clip_.logit_scale * feats @ self.zero_shot_weights(names).T
            if len(present) > 1:
                decision = torch.from_numpy(model.decision_function(feats.numpy())).float()
                for column, name in enumerate(names):
                    if name in seen and seen.index(name) in present:
                        out[:, column] = decision[:, int(np.searchsorted(present, seen.index(name)))]
            return out

        return score


class CoOp(PromptMethod):
    """Learned context vectors shared by every class (CoOp's unified context, class token at the end)."""

    name = "coop"
    kind = "baseline"
    paper = "Zhou et al., IJCV 2022 (CoOp), arXiv 2109.01134"

    @dataclass(frozen=True)
    class Config:
        """Options of CoOp."""

        n_ctx: int = option(4, "Context vectors (4, initialised from 'a photo of a', as CoOp's base-to-novel runs; "
                            "more than the template's words: random init, as CoOp's 16).", ge=1)

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train the context on cross-entropy over the training classes."""
        context = TextContext(self.clip_, self.template_, self.config.n_ctx, seed=seed)
        features = self.image_features(images)
        target = torch.from_numpy(labels)
        scale = self.clip_.logit_scale

        def step_loss(rows: np.ndarray) -> torch.Tensor:
            logits = scale * features[rows] @ context.features(class_names).T
            return F.cross_entropy(logits, target[rows])

        optimise(context.parameters(), step_loss, n_items=len(labels), budget=self.budget_, seed=seed)

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            return scale * self.image_features(test) @ context.features(names).T

        return score


class MetaNet(nn.Module):
    """CoCoOp's meta-net: Linear(embed_dim, embed_dim // 16) - ReLU - Linear(-, text_width)."""

    def __init__(self, embed_dim: int, text_width: int) -> None:
        super().__init__()
        hidden = max(1, embed_dim // 16)
        self.net = nn.Sequential(nn.Linear(embed_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, text_width))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Float (n, text_width): the shift of every context vector for each image feature (n, embed_dim)."""
        return self.net(features)


class CoCoOp(PromptMethod):
    """Context vectors shifted per image by a meta-net of the image feature (conditional CoOp)."""

    name = "cocoop"
    kind = "baseline"
    paper = "Zhou et al., CVPR 2022 (CoCoOp), arXiv 2203.05557"

    @dataclass(frozen=True)
    class Config:
        """Options of CoCoOp."""

        n_ctx: int = option(4, "Context vectors (CoCoOp: 4, initialised from 'a photo of a').", ge=1)

    def _logits(self, context: TextContext, meta: MetaNet, features: torch.Tensor,
                names: Sequence[str], *, chunk: int = 64) -> torch.Tensor:
        """Float (n, n_classes): every image against every class, with the context shifted by that image."""
        tokens, embeds = context.tokens(names)
        n_classes, n_ctx = len(names), context.n_ctx
        out = []
        for start in range(0, len(features), chunk):
            feats = features[start:start + chunk]
            ctx = (context.ctx.unsqueeze(0) + meta(feats).unsqueeze(1)).unsqueeze(1)  # (b, 1, n_ctx, width)
            ctx = ctx.expand(-1, n_classes, -1, -1)
            head = embeds[:, :1].unsqueeze(0).expand(len(feats), -1, -1, -1)
            tail = embeds[:, 1 + n_ctx:].unsqueeze(0).expand(len(feats), -1, -1, -1)
            prompts = torch.cat([head, ctx, tail], dim=2).flatten(0, 1)
            text = self.clip_.encode_text_embeddings(prompts, tokens.repeat(len(feats), 1))
            text = F.normalize(text, dim=-1).view(len(feats), n_classes, -1)
            out.append(self.clip_.logit_scale * torch.einsum("be,bce->bc", feats, text))
        return torch.cat(out) if out else torch.zeros((0, n_classes))

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train the context and the meta-net on cross-entropy over the training classes."""
        torch.manual_seed(seed)
        context = TextContext(self.clip_, self.template_, self.config.n_ctx, seed=seed)
        meta = MetaNet(self.clip_.embed_dim, self.clip_.text_width)
        features = self.image_features(images)
        target = torch.from_numpy(labels)

        def step_loss(rows: np.ndarray) -> torch.Tensor:
            return F.cross_entropy(self._logits(context, meta, features[rows], class_names), target[rows])

        optimise([*context.parameters(), *meta.parameters()], step_loss, n_items=len(labels), budget=self.budget_,
                 seed=seed)

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            return self._logits(context, meta, self.image_features(test), names)

        return score
