"""Adaptive multi-modality prompt learning (AMMPL) as a prompt-track method.

Reference: Wu, Liu, Zhan, Shen, Hu, Zhu. "Adaptive Multi-Modality Prompt Learning." arXiv 2312.00823, 2023.
License of this implementation: Apache-2.0 (parbench); written from the paper's description (no code published
with it was used).

Text prompt: CoOp's learned context (:class:`~harness.tracks.prompt.method.TextContext`), shifted by the image
prompt's auxiliary information. Image prompt: :class:`~methods.ammpl.model.ImagePrompt` (patch scoring, masking,
padding with learned parameters and the text information, appended prompt tokens). The loss is cross-entropy plus
``keep_weight`` times the squared gap between the mean keep probability and ``keep_target`` (without it nothing
stops the scorer from keeping or masking everything). The ablations are configs: ``image_prompt=False`` (text
prompt only), ``masking=False`` (image prompt without masking), ``text_padding=False`` (no text information in the
padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from harness.options import option
from harness.tracks.prompt.method import PromptMethod, Scorer, TextContext, optimise
from methods.ammpl.model import ImagePrompt

__all__ = ["Ammpl"]


class Ammpl(PromptMethod):
    """Text prompt plus an image prompt that masks meaningless patches and pads them with text information."""

    name = "ammpl"
    kind = "method"
    paper = "Wu et al., Adaptive Multi-Modality Prompt Learning, arXiv 2312.00823"

    @dataclass(frozen=True)
    class Config:
        """Options of AMMPL."""

        n_ctx: int = option(4, "Text context vectors (initialised from 'a photo of a').", ge=1)
        n_prompt: int = option(4, "Image prompt tokens appended to the patch tokens.", ge=1)
        image_prompt: bool = option(True, "Use the image prompt (False: the text prompt alone).")
        masking: bool = option(True, "Mask meaningless patches and pad them (False: appended prompt tokens only).")
        text_padding: bool = option(True, "Put the text information into the padding and the prompt tokens.")
        keep_target: float = option(0.75, "Target mean probability that a patch is kept.", gt=0, le=1)
        keep_weight: float = option(1.0, "Weight of the keep-rate penalty in the loss.", ge=0)

    def _text(self, context: TextContext, prompt: ImagePrompt | None, names: Sequence[str]) -> torch.Tensor:
        if prompt is None:
            return context.features(names)
        return context.features(names, ctx=context.ctx + prompt.text_shift())

    def _image(self, prompt: ImagePrompt | None, tokens: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if prompt is None:
            return F.normalize(self.clip_.encode_tokens(tokens), dim=-1), None
        prompted, keep = prompt(tokens, text.mean(dim=0))
        feats = self.clip_.encode_tokens(prompted, n_prompt=prompt.prompts.shape[0])
        return F.normalize(feats, dim=-1), keep

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train both prompts jointly on the training classes."""
        cfg = self.config
        torch.manual_seed(seed)
        context = TextContext(self.clip_, self.template_, cfg.n_ctx, seed=seed)
        tokens = self.image_tokens(images)
        prompt = None
        if cfg.image_prompt:
            prompt = ImagePrompt(tokens.shape[1] - 1, self.clip_.vision_width, self.clip_.embed_dim,
                                 self.clip_.text_width, n_prompt=cfg.n_prompt, masking=cfg.masking,
                                 text_padding=cfg.text_padding, seed=seed)
            prompt.train()
        target = torch.from_numpy(labels)
        scale = self.clip_.logit_scale
        params = [*context.parameters(), *(prompt.parameters() if prompt is not None else [])]

        def step_loss(rows: np.ndarray) -> torch.Tensor:
            text = self._text(context, prompt, class_names)
            feats, keep = self._image(prompt, tokens[rows], text)
            loss = F.cross_entropy(scale * feats @ text.T, target[rows])
            if keep is not None and cfg.masking:
                loss = loss + cfg.keep_weight * (keep.mean() - cfg.keep_target) ** 2
            return loss

        optimise(params, step_loss, n_items=len(labels), budget=self.budget_, seed=seed)
        if prompt is not None:
            prompt.eval()

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            text = self._text(context, prompt, names)
            test_tokens = self.image_tokens(test)
            feats = torch.cat([self._image(prompt, test_tokens[i:i + 256], text)[0]
                               for i in range(0, len(test_tokens), 256)])
            return scale * feats @ text.T

        return score
