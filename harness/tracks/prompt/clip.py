"""The frozen CLIP of the prompt track: a tiny open_clip model pre-trained here, or a real one from a checkpoint.

- ``model = "tiny"`` (the CPU budgets): an ``open_clip.model.CLIP`` built from a small configuration
  (:func:`tiny_config`) and pre-trained contrastively on synthetic image-caption pairs
  (:func:`harness.tracks.prompt.synth.pretraining_pairs`) with the CLIP BPE tokenizer that open_clip ships inside
  its package; trained once per configuration and seed and kept in the cache of derived files
  (:mod:`~harness.tracks.prompt.clip_cache`), then frozen.
- any other name (``ViT-B-16``): ``open_clip.create_model(name, pretrained=<budget.weights>)`` from a local
  checkpoint file; nothing is downloaded.

:class:`FrozenClip` wraps either with the forward passes prompt learners need: text encoding from token
embeddings with learned context vectors (and, per layer, deep prompts), image encoding from patch tokens with
extra prompt tokens, replaced patch tokens and deep visual prompts. The model's own parameters never train.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

__all__ = ["CLIP_MEAN", "CLIP_STD", "FrozenClip", "build_tiny", "pretrain_tiny", "tiny_config"]

#: Pixel mean and standard deviation of CLIP's preprocessing (RGB, in [0, 1]).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def tiny_config(budget: Any) -> dict[str, Any]:
    """The open_clip configuration of the tiny CLIP from the budget's ``tiny_*`` fields (a JSON-able dict)."""
    width = budget.tiny_width
    return {
        "embed_dim": budget.tiny_embed_dim,
        "vision_cfg": {"image_size": budget.image_size, "patch_size": budget.tiny_patch_size, "width": width,
                       "layers": budget.tiny_layers, "head_width": 32, "mlp_ratio": 2.0},
        "text_cfg": {"context_length": budget.context_length, "vocab_size": 49408, "width": width, "heads": width // 32,
                     "layers": budget.tiny_text_layers, "mlp_ratio": 2.0},
    }


def build_tiny(config: dict[str, Any]) -> nn.Module:
    """An untrained ``open_clip.model.CLIP`` of ``config`` (see :func:`tiny_config`)."""
    from open_clip.model import CLIP

    return CLIP(config["embed_dim"], config["vision_cfg"], config["text_cfg"])


def _tokenizer(context_length: int) -> Callable[[Sequence[str]], torch.Tensor]:
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=context_length)


def _to_pixels(images: np.ndarray, size: int) -> torch.Tensor:
    """float32 tensor (n, 3, size, size), CLIP-normalised, from uint8 (n, H, W, 3)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def pretrain_tiny(config: dict[str, Any], images: np.ndarray, captions: list[str], *, steps: int, batch_size: int,
                  learning_rate: float, seed: int, log: Any = None) -> dict[str, torch.Tensor]:
    """Pre-train the tiny CLIP contrastively on image-caption pairs; return its state dict (CPU tensors).

    The loss is CLIP's symmetric cross-entropy, with every pair of the batch that shares the caption counted as a
    positive (the synthetic captions repeat). AdamW, weight decay 0.1, linear warm-up over the first tenth of the
    steps, then cosine decay.

    Args:
        config: :func:`tiny_config`.
        images: uint8 array of shape (n_pairs, H, W, 3).
        captions: One caption per image.
        steps: Optimiser steps.
        batch_size: Pairs per step.
        learning_rate: Peak learning rate.
        seed: Seed of the initialisation and of the batches.
        log: Optional logger.
    """
    torch.manual_seed(seed)
    model = build_tiny(config)
    model.train()
    tokenize = _tokenizer(config["text_cfg"]["context_length"])
    unique, caption_ids = np.unique(np.asarray(captions), return_inverse=True)
    tokens = tokenize(list(unique))
    pixels = _to_pixels(images, config["vision_cfg"]["image_size"])
    optimiser = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.1)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / max(1, steps)))))
    rng = np.random.default_rng(seed)
    for step in range(steps):
        rows = rng.choice(len(pixels), size=min(batch_size, len(pixels)), replace=False)
        ids = torch.from_numpy(caption_ids[rows])
        batch = pixels[rows]
        flip = torch.from_numpy(rng.random(len(rows)) < 0.5)
        batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)
        image_features = F.normalize(model.encode_image(batch), dim=-1)
        text_features = F.normalize(model.encode_text(tokens[ids]), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * image_features @ text_features.T
        same = (ids[:, None] == ids[None, :]).float()
        target = same / same.sum(dim=1, keepdim=True)
        loss = 0.5 * (torch.sum(-target * F.log_softmax(logits, 1), 1).mean()
                      + torch.sum(-target * F.log_softmax(logits.T, 1), 1).mean())
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if log is not None and (step % 100 == 0 or step == steps - 1):
            log.info("tiny CLIP pre-training step %d/%d: loss %.4f", step + 1, steps, float(loss.detach()))
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


@dataclass
class FrozenClip:
    """A frozen CLIP and the forward passes prompt learners need.

    Attributes:
        model: The ``open_clip`` CLIP (eval mode, no gradients on its parameters).
        context_length: Tokens per text.
        image_size: Side of the model's input, in pixels.
        name: ``"tiny"`` or the open_clip architecture.
    """

    model: nn.Module
    context_length: int
    image_size: int
    name: str = "tiny"

    def __post_init__(self) -> None:
        self.model.eval()
        for p in self.model.parameters():
            p.requires_grad_(requires_grad=False)
        self._tokenize = _tokenizer(self.context_length)

    # ------------------------------------------------------------------ text
    @property
    def text_width(self) -> int:
        """Token width of the text transformer."""
        return int(self.model.token_embedding.weight.shape[1])

    @property
    def vision_width(self) -> int:
        """Token width of the image transformer."""
        return int(self.model.visual.conv1.out_channels)

    @property
    def embed_dim(self) -> int:
        """Width of the joint embedding."""
        return int(self.model.text_projection.shape[1])

    @property
    def logit_scale(self) -> float:
        """CLIP's learned temperature, exp(logit_scale)."""
        return float(self.model.logit_scale.exp().clamp(max=100))

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """int64 tensor of shape (n_texts, context_length): CLIP BPE tokens, start and end tokens included."""
        return self._tokenize(list(texts))

    def token_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float tensor (n_texts, context_length, text_width): the frozen token embeddings."""
        return self.model.token_embedding(tokens)

    def encode_text_embeddings(self, embeds: torch.Tensor, tokens: torch.Tensor, *,
                               deep: Sequence[torch.Tensor] = (), n_ctx: int = 0) -> torch.Tensor:
        """Text features from token embeddings (differentiable in ``embeds`` and ``deep``).

        Args:
            embeds: float tensor (n_texts, context_length, text_width): embeddings, learned context included.
            tokens: int64 tensor (n_texts, context_length): the tokens (their argmax is the end token).
            deep: Deep prompts, one float tensor (n_ctx, text_width) per layer from the second on: before layer
                ``i + 1``, tokens ``1 .. n_ctx`` are replaced by ``deep[i]`` (MaPLe's deep language prompts).
            n_ctx: Context tokens the deep prompts replace.

        Returns:
            float tensor of shape (n_texts, embed_dim), not normalised.
        """
        m = self.model
        x = embeds + m.positional_embedding
        for i, block in enumerate(m.transformer.resblocks):
            if 0 < i <= len(deep):
                prompt = deep[i - 1].unsqueeze(0).expand(len(x), -1, -1)
                x = torch.cat([x[:, :1], prompt, x[:, 1 + n_ctx:]], dim=1)
            x = block(x, attn_mask=m.attn_mask)
        x = m.ln_final(x)
        x = x[torch.arange(len(x)), tokens.argmax(dim=-1)]
        return x @ m.text_projection if not isinstance(m.text_projection, nn.Linear) else m.text_projection(x)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Float tensor (n_texts, embed_dim), L2-normalised: the features of hand-written texts."""
        tokens = self.tokenize(texts)
        return F.normalize(self.encode_text_embeddings(self.token_embeddings(tokens), tokens), dim=-1)

    # ----------------------------------------------------------------- image
    def pixels(self, images: np.ndarray) -> torch.Tensor:
        """float32 tensor (n, 3, image_size, image_size), CLIP-normalised, from uint8 (n, H, W, 3)."""
        return _to_pixels(images, self.image_size)

    def patch_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """Float tensor (n, 1 + n_patches, vision_width): class and patch tokens after ``ln_pre``."""
        return self.model.visual._embeds(pixels)  # noqa: SLF001 - the documented first stage of open_clip's ViT

    def encode_tokens(self, x: torch.Tensor, *, deep: Sequence[torch.Tensor] = (), n_prompt: int = 0) -> torch.Tensor:
        """Image features from tokens (differentiable in ``x`` and ``deep``).

        Args:
            x: float tensor (n, n_tokens, vision_width): class token first, then patch tokens, then any prompt tokens.
            deep: Deep visual prompts, one float tensor (n_prompt, vision_width) per layer from the second on; each
                replaces the last ``n_prompt`` tokens before its layer.
            n_prompt: Prompt tokens at the end of ``x``.

        Returns:
            float tensor of shape (n, embed_dim), not normalised (the class token's output, projected).
        """
        visual = self.model.visual
        for i, block in enumerate(visual.transformer.resblocks):
            if 0 < i <= len(deep):
                x = torch.cat([x[:, : x.shape[1] - n_prompt], deep[i - 1].unsqueeze(0).expand(len(x), -1, -1)], 1)
            x = block(x)
        pooled, _ = visual._pool(x)  # noqa: SLF001 - open_clip's own pooling (class token, ln_post)
        return pooled @ visual.proj if visual.proj is not None else pooled

    @torch.no_grad()
    def encode_images(self, images: np.ndarray, *, batch_size: int = 128) -> torch.Tensor:
        """Float tensor (n, embed_dim), L2-normalised: frozen image features of uint8 images (n, H, W, 3)."""
        out = []
        for start in range(0, len(images), batch_size):
            pixels = self.pixels(images[start:start + batch_size])
            out.append(self.encode_tokens(self.patch_tokens(pixels)))
        if not out:
            return torch.zeros((0, self.embed_dim))
        return F.normalize(torch.cat(out), dim=-1)
