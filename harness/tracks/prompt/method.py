"""The base class of every prompt-track method, the learned text context they share, and the optimiser loop.

:class:`PromptMethod` implements the track's contract once: ``fit`` trains the method's classifier twice (on the
shots of every class, then on those of the base classes), ``predict`` scores the test images against every class
name with both. A subclass implements :meth:`PromptMethod.train_classifier`, which returns a function
``score(images, class_names) -> float tensor (n_images, n_classes)``. Frozen image features and frozen patch
tokens are computed once per image array and shared by both trainings and by prediction
(:meth:`PromptMethod.image_features`, :meth:`PromptMethod.image_tokens`).

:class:`TextContext` is CoOp's learned context: ``n_ctx`` vectors that replace the first ``n_ctx`` word tokens of
the template (``"a photo of a {}."``), initialised from those words' embeddings (CoOp's ``ctx_init``); with more
context tokens than the template has words, the prompt is ``"X X ... X <class name>."`` and the vectors start
from a normal distribution of standard deviation 0.02 (CoOp's random init).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.api import Budget, Context, Method, Predictions
from harness.errors import ParbenchError

__all__ = ["PromptMethod", "Scorer", "TextContext", "optimise"]

#: What :meth:`PromptMethod.train_classifier` returns: (images, class names) -> scores (n_images, n_classes).
Scorer = Callable[[np.ndarray, Sequence[str]], torch.Tensor]


class TextContext(nn.Module):
    """CoOp's learned context vectors, shared by every class (see the module docstring).

    Args:
        clip: The :class:`~harness.tracks.prompt.clip.FrozenClip`.
        template: Hand-written template with ``{}`` for the class name.
        n_ctx: Learned context tokens.
        seed: Seed of a random initialisation.
    """

    def __init__(self, clip: Any, template: str, n_ctx: int, *, seed: int = 0) -> None:
        super().__init__()
        self.clip = clip
        self.n_ctx = n_ctx
        prefix = template.split("{}")[0].strip()
        n_words = int(clip.tokenize([prefix])[0].argmax()) - 1 if prefix else 0
        if n_ctx <= n_words:
            self.template = template
            init = clip.token_embeddings(clip.tokenize([prefix]))[0, 1:1 + n_ctx].detach().clone()
        else:
            self.template = " ".join(["X"] * n_ctx) + " {}."
            init = torch.randn(n_ctx, clip.text_width, generator=torch.Generator().manual_seed(seed)) * 0.02
        self.ctx = nn.Parameter(init)
        self._cache: dict[tuple[str, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def tokens(self, class_names: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens (n_classes, L), frozen token embeddings (n_classes, L, width)) of the prompts, cached per names."""
        key = tuple(class_names)
        if key not in self._cache:
            tokens = self.clip.tokenize([self.template.format(name) for name in key])
            with torch.no_grad():
                self._cache[key] = (tokens, self.clip.token_embeddings(tokens))
        return self._cache[key]

    def embeddings(self, class_names: Sequence[str], ctx: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """(prompt embeddings (n_classes, L, width) with the context in place, tokens (n_classes, L)).

        Args:
            class_names: The classes.
            ctx: float tensor (n_ctx, width) to use instead of :attr:`ctx` (e.g. shifted by an image).
        """
        tokens, embeds = self.tokens(class_names)
        ctx = self.ctx if ctx is None else ctx
        prompt = ctx.unsqueeze(0).expand(len(tokens), -1, -1)
        return torch.cat([embeds[:, :1], prompt, embeds[:, 1 + self.n_ctx:]], dim=1), tokens

    def features(self, class_names: Sequence[str], *, ctx: torch.Tensor | None = None,
                 deep: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Float tensor (n_classes, embed_dim), L2-normalised: the text features of the learned prompts."""
        embeds, tokens = self.embeddings(class_names, ctx)
        out = self.clip.encode_text_embeddings(embeds, tokens, deep=deep, n_ctx=self.n_ctx)
        return F.normalize(out, dim=-1)


def optimise(parameters: Iterable[nn.Parameter], step_loss: Callable[[np.ndarray], torch.Tensor], *, n_items: int,
             budget: Any, seed: int) -> list[float]:
    """Minimise ``step_loss(rows)`` over random batches of ``n_items`` items (AdamW, cosine decay, no weight decay).

    Args:
        parameters: The learned parameters.
        step_loss: Loss of a batch, given the int64 rows (batch_size,) of the items it holds.
        n_items: Items to draw batches from.
        budget: The budget (``steps``, ``batch_size``, ``learning_rate``).
        seed: Seed of the batches.

    Returns:
        The loss of every step.
    """
    params = [p for p in parameters if p.requires_grad]
    if not params or not budget.steps or not n_items:
        return []
    optimiser = torch.optim.AdamW(params, lr=budget.learning_rate, weight_decay=0.0)
    steps = budget.steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        rows = rng.choice(n_items, size=min(budget.batch_size, n_items), replace=False)
        loss = step_loss(rows)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return losses


class PromptMethod(Method):
    """A method of the prompt track (see the module docstring); ``fit`` stores fitted attributes ending in ``_``."""

    track = "prompt"

    def fit(self, train: Any, budget: Budget, ctx: Context) -> PromptMethod:
        """Train the few-shot classifier (every class) and the base-to-novel one (base classes only)."""
        torch.set_num_threads(max(1, ctx.n_threads))
        torch.manual_seed(ctx.seed)
        self.clip_ = train.clip
        self.budget_ = budget
        self.template_ = train.template
        self.class_names_ = tuple(train.class_names)
        self._features: dict[int, tuple[np.ndarray, torch.Tensor]] = {}
        self._tokens: dict[int, tuple[np.ndarray, torch.Tensor]] = {}
        labels = np.asarray(train.labels, dtype=np.int64)
        self.fewshot_ = self.train_classifier(train.images, labels, self.class_names_, seed=ctx.seed)
        base = labels < train.n_base
        self.base_ = self.train_classifier(train.images[base], labels[base], self.class_names_[: train.n_base],
                                           seed=ctx.seed + 7919)
        return self

    @abstractmethod
    def train_classifier(self, images: np.ndarray, labels: np.ndarray, class_names: Sequence[str], *,
                         seed: int) -> Scorer:
        """Train on uint8 images (n, H, W, 3) with labels in ``[0, len(class_names))``; return the scorer."""

    def predict(self, inputs: Any) -> Predictions:
        """``logits`` and ``b2n_logits``: float32 (n_images, n_classes) from the two classifiers."""
        if not hasattr(self, "fewshot_"):
            msg = f"{type(self).__name__}.predict was called before fit; call fit(train, budget, ctx) first."
            raise ParbenchError(msg)
        with torch.no_grad():
            logits = self.fewshot_(inputs.images, self.class_names_)
            b2n = self.base_(inputs.images, self.class_names_)
        return Predictions.of(logits=logits.float(), b2n_logits=b2n.float())

    # ------------------------------------------------------------ shared frozen work
    def image_features(self, images: np.ndarray) -> torch.Tensor:
        """Float tensor (n, embed_dim), L2-normalised: the frozen image features, computed once per array."""
        key = id(images)
        if key not in self._features:
            self._features[key] = (images, self.clip_.encode_images(images))
        return self._features[key][1]

    def image_tokens(self, images: np.ndarray) -> torch.Tensor:
        """Float tensor (n, 1 + n_patches, vision_width): the frozen class and patch tokens, computed once per array."""
        key = id(images)
        if key not in self._tokens:
            with torch.no_grad():
                tokens = torch.cat([self.clip_.patch_tokens(self.clip_.pixels(images[i:i + 256]))
                                    for i in range(0, len(images), 256)]) if len(images) else None
            self._tokens[key] = (images, tokens)
        return self._tokens[key][1]

    def zero_shot_weights(self, class_names: Sequence[str]) -> torch.Tensor:
        """Float tensor (n_classes, embed_dim): the hand-written template's text features."""
        return self.clip_.encode_texts([self.template_.format(name) for name in class_names])
