"""The image prompt of adaptive multi-modality prompt learning, in plain torch (no harness import).

:class:`ImagePrompt` acts on the frozen class and patch tokens of an image transformer:

1. it scores every patch token (a linear score of the token plus a learned per-position bias, through a sigmoid:
   the probability that the patch is meaningful);
2. it masks patches: during training a Bernoulli draw of that probability with a straight-through gradient, at
   test time the patches whose probability is below 0.5;
3. it pads each masked patch with a learned vector of its position plus the text information (the mean text
   feature of the classes, mapped to the token width);
4. it appends ``n_prompt`` learned prompt tokens, which carry the text information too;
5. it hands the text prompt its own auxiliary information: a shift of the text context computed from the padding
   parameters (:meth:`ImagePrompt.text_shift`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ImagePrompt"]


class ImagePrompt(nn.Module):
    """Masks meaningless patches and pads them with learned parameters and text information.

    Args:
        n_patches: Patch tokens per image.
        width: Token width of the image transformer.
        embed_dim: Width of the joint embedding (the text information's width).
        text_width: Token width of the text transformer (for :meth:`text_shift`).
        n_prompt: Appended prompt tokens.
        masking: Mask and pad patches (False: only the appended prompt tokens).
        text_padding: Add the text information to the padding and the prompt tokens.
        keep_init: Initial probability that a patch is kept.
        seed: Seed of the initialisation.
    """

    def __init__(self, n_patches: int, width: int, embed_dim: int, text_width: int, *, n_prompt: int = 4,
                 masking: bool = True, text_padding: bool = True, keep_init: float = 0.9, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.masking = masking
        self.text_padding = text_padding
        self.score = nn.Linear(width, 1)
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)
        logit = float(torch.logit(torch.tensor(keep_init)))
        self.position_bias = nn.Parameter(torch.full((n_patches,), logit))
        self.pad = nn.Parameter(torch.randn(n_patches, width, generator=generator) * 0.02)
        self.prompts = nn.Parameter(torch.randn(n_prompt, width, generator=generator) * 0.02)
        self.text_to_image = nn.Linear(embed_dim, width)
        nn.init.zeros_(self.text_to_image.weight)
        nn.init.zeros_(self.text_to_image.bias)
        self.image_to_text = nn.Linear(width, text_width)
        nn.init.zeros_(self.image_to_text.weight)
        nn.init.zeros_(self.image_to_text.bias)

    def keep_probability(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float (n, n_patches): probability that each patch is meaningful, from tokens (n, 1 + n_patches, width)."""
        return torch.sigmoid(self.score(tokens[:, 1:]).squeeze(-1) + self.position_bias)

    def forward(self, tokens: torch.Tensor, text_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompted tokens and keep probabilities.

        Args:
            tokens: float (n, 1 + n_patches, width): class and patch tokens.
            text_info: float (embed_dim,): the text information (mean class text feature).

        Returns:
            (tokens (n, 1 + n_patches + n_prompt, width), keep probability (n, n_patches)).
        """
        info = self.text_to_image(text_info) if self.text_padding else torch.zeros_like(self.prompts[0])
        patches = tokens[:, 1:]
        keep_p = self.keep_probability(tokens)
        if self.masking:
            if self.training:
                drawn = torch.bernoulli(keep_p.detach())
                keep = drawn + keep_p - keep_p.detach()
            else:
                keep = (keep_p >= 0.5).to(patches.dtype)
            fill = (self.pad + info).unsqueeze(0)
            patches = keep.unsqueeze(-1) * patches + (1 - keep.unsqueeze(-1)) * fill
        prompts = (self.prompts + info).unsqueeze(0).expand(len(tokens), -1, -1)
        return torch.cat([tokens[:, :1], patches, prompts], dim=1), keep_p

    def text_shift(self) -> torch.Tensor:
        """Float (text_width,): the image prompt's auxiliary information for the text context."""
        return self.image_to_text(self.pad.mean(dim=0))
