"""Build the frozen CLIP a budget names: the cached tiny model, or an open_clip architecture from a local checkpoint."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from harness.errors import BudgetError
from harness.tracks.prompt.clip import FrozenClip, build_tiny, pretrain_tiny, tiny_config
from harness.tracks.prompt.clip_cache import cached_clip_state

__all__ = ["PRETRAIN_FIELDS", "load_frozen_clip"]

#: Budget fields the tiny CLIP's weights depend on (besides its configuration).
PRETRAIN_FIELDS = ("pretrain_pairs", "pretrain_steps", "pretrain_batch_size", "pretrain_learning_rate",
                   "pretrain_seed")


def load_frozen_clip(budget: Any, *, cache_root: Path | None = None, log: Any = None) -> FrozenClip:
    """The frozen CLIP of ``budget``.

    Args:
        budget: A :class:`~harness.tracks.prompt.track.PromptBudget`.
        cache_root: The cache of derived files, where the tiny model is kept (``None``: its default).
        log: The job's logger.

    Raises:
        BudgetError: A named model without a checkpoint, or a checkpoint open_clip cannot load.
    """
    if budget.model == "tiny":
        from harness.tracks.prompt import synth

        config = tiny_config(budget)
        payload = {"config": config, **{f: getattr(budget, f) for f in PRETRAIN_FIELDS},
                   "generator": synth.VERSION}

        def train() -> dict[str, Any]:
            images, captions = synth.pretraining_pairs(budget.pretrain_pairs, seed=budget.pretrain_seed,
                                                       side=budget.image_size)
            return pretrain_tiny(config, images, captions, steps=budget.pretrain_steps,
                                 batch_size=budget.pretrain_batch_size, learning_rate=budget.pretrain_learning_rate,
                                 seed=budget.pretrain_seed, log=log)

        state = cached_clip_state(payload, train, cache_root=cache_root, log=log)
        model = build_tiny(config)
        model.load_state_dict(state)
        return FrozenClip(model, budget.context_length, budget.image_size, "tiny")
    return _named(budget)


def _named(budget: Any) -> FrozenClip:
    import open_clip

    from harness.backbones import is_random

    if is_random(budget.weights):
        msg = (f"budget {budget.name!r}: model {budget.model!r} needs a local open_clip checkpoint; pass --set "
               "weights=PATH. Nothing is downloaded.")
        raise BudgetError(msg)
    try:
        model = open_clip.create_model(budget.model, pretrained=str(budget.weights), device="cpu")
    except (RuntimeError, OSError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as exc:
        msg = f"budget {budget.name!r}: open_clip cannot load {budget.weights} as {budget.model!r} ({exc})."
        raise BudgetError(msg) from exc
    size = model.visual.image_size
    side = int(size[0] if isinstance(size, tuple | list) else size)
    context = int(model.positional_embedding.shape[0])
    return FrozenClip(model, context, side, budget.model)

