"""Baselines that prompt the image tower: MaPLe (coupled prompts in both towers) and VPT-shallow.

- :class:`Maple`: CoOp-style context of ``n_ctx`` vectors (2, from the template's first words) in the text tower,
  deep text prompts in its next layers up to ``prompt_depth``, and visual prompts in the image tower obtained from
  the text prompts of the same layer by a linear coupling function per layer (Khattak et al., CVPR 2023,
  arXiv 2210.03117: ``N_CTX`` 2, ``PROMPT_DEPTH`` 9 of 12 layers).
- :class:`VptShallow`: ``n_prompt`` learned tokens appended to the image tower's input sequence only (Jia et
  al., ECCV 2022, arXiv 2203.12119), uniformly initialised as in VPT; text weights stay the hand-written
  template's.

Patch tokens of every image are computed once (they do not depend on the prompts); only the transformer blocks
run per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.options import option
from harness.tracks.prompt.method import PromptMethod, Scorer, TextContext, optimise

__all__ = ["Maple", "VptShallow", "encode_in_chunks"]


def encode_in_chunks(clip: object, tokens: torch.Tensor, prompts: torch.Tensor, deep: Sequence[torch.Tensor], *,
                     chunk: int = 256) -> torch.Tensor:
    """L2-normalised image features (n, embed_dim) of frozen tokens (n, T, width) with ``prompts`` appended."""
    out = []
    for start in range(0, len(tokens), chunk):
        x = tokens[start:start + chunk]
        x = torch.cat([x, prompts.unsqueeze(0).expand(len(x), -1, -1)], dim=1)
        out.append(F.normalize(clip.encode_tokens(x, deep=deep, n_prompt=len(prompts)), dim=-1))
    return torch.cat(out)


class MapleModule(nn.Module):
    """MaPLe's prompts: text context, deep text prompts, and one text-to-vision coupling per prompted layer."""

    def __init__(self, clip: object, template: str, n_ctx: int, depth: int, *, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        n_layers = min(len(clip.model.transformer.resblocks), len(clip.model.visual.transformer.resblocks))
        self.depth = max(1, min(depth, n_layers))
        self.context = TextContext(clip, template, n_ctx, seed=seed)
        self.deep_text = nn.ParameterList(
            [nn.Parameter(torch.randn(n_ctx, clip.text_width) * 0.02) for _ in range(self.depth - 1)])
        self.coupling = nn.ModuleList([nn.Linear(clip.text_width, clip.vision_width) for _ in range(self.depth)])

    def text(self, class_names: Sequence[str]) -> torch.Tensor:
        """Text features (n_classes, embed_dim), L2-normalised."""
        return self.context.features(class_names, deep=list(self.deep_text))

    def visual(self) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(visual prompts of the input layer (n_ctx, vision_width), deep visual prompts of the next layers)."""
        first = self.coupling[0](self.context.ctx)
        return first, [f(p) for f, p in zip(self.coupling[1:], self.deep_text, strict=True)]


class Maple(PromptMethod):
    """Multi-modal prompt learning: deep text prompts coupled to deep visual prompts by linear maps."""

    name = "maple"
    kind = "baseline"
    paper = "Khattak et al., CVPR 2023 (MaPLe), arXiv 2210.03117"

    @dataclass(frozen=True)
    class Config:
        """Options of MaPLe."""

        n_ctx: int = option(2, "Prompt tokens per layer in each tower (MaPLe: 2).", ge=1)

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train the prompts of both towers on cross-entropy over the training classes."""
        module = MapleModule(self.clip_, self.template_, self.config.n_ctx, self.budget_.prompt_depth, seed=seed)
        tokens = self.image_tokens(images)
        target = torch.from_numpy(labels)
        scale = self.clip_.logit_scale

        def step_loss(rows: np.ndarray) -> torch.Tensor:
            first, deep = module.visual()
            feats = encode_in_chunks(self.clip_, tokens[rows], first, deep)
            return F.cross_entropy(scale * feats @ module.text(class_names).T, target[rows])

        optimise(module.parameters(), step_loss, n_items=len(labels), budget=self.budget_, seed=seed)

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            first, deep = module.visual()
            return scale * encode_in_chunks(self.clip_, self.image_tokens(test), first, deep) @ module.text(names).T

        return score


class VptShallow(PromptMethod):
    """Visual prompt tuning, shallow: learned tokens at the image tower's input; hand-written text weights."""

    name = "vpt-shallow"
    kind = "baseline"
    paper = "Jia et al., ECCV 2022 (VPT), arXiv 2203.12119"

    @dataclass(frozen=True)
    class Config:
        """Options of VPT-shallow."""

        n_prompt: int = option(4, "Visual prompt tokens at the input layer.", ge=1)

    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train the visual prompt tokens on cross-entropy against the template's text features."""
        width = self.clip_.vision_width
        patch = int(self.clip_.model.visual.conv1.kernel_size[0])
        bound = math.sqrt(6.0 / float(3 * patch * patch + width))
        generator = torch.Generator().manual_seed(seed)
        prompts = nn.Parameter(torch.rand(self.config.n_prompt, width, generator=generator) * 2 * bound - bound)
        tokens = self.image_tokens(images)
        target = torch.from_numpy(labels)
        scale = self.clip_.logit_scale
        weights = self.zero_shot_weights(class_names)

        def step_loss(rows: np.ndarray) -> torch.Tensor:
            feats = encode_in_chunks(self.clip_, tokens[rows], prompts, [])
            return F.cross_entropy(scale * feats @ weights.T, target[rows])

        optimise([prompts], step_loss, n_items=len(labels), budget=self.budget_, seed=seed)

        def score(test: np.ndarray, names: Sequence[str]) -> torch.Tensor:
            feats = encode_in_chunks(self.clip_, self.image_tokens(test), prompts.detach(), [])
            return scale * feats @ self.zero_shot_weights(names).T

        return score
