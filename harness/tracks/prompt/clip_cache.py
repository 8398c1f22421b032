"""The pre-trained tiny CLIP, trained once per configuration and seed and kept in the cache of derived files.

The file is ``<cache>/prompt/tiny-clip/pretraining/v<CACHE_VERSION>-<key>/tiny-clip-<key>.safetensors``
(:mod:`harness.cache`; ``--cache``, never the dataset folder: the pre-training pairs come from the track's own
generator, not from the dataset) with a JSON record beside it; ``<key>`` hashes the tiny configuration, the
pre-training fields of the budget, the synthetic generator's version, the seed, the cache version and the torch
version. A lock file makes a second job wait for the first instead of pre-training twice; the file is written under
a temporary name and renamed. Where the folder cannot be written, the job pre-trains the model itself (the same
weights: pre-training is deterministic on one machine) and says so in its log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.api import stable_hash
from harness.cache import cached_tensors, derived_folder

__all__ = ["CACHE_VERSION", "cache_path", "cached_clip_state"]

#: Version of the cached pre-training recipe; bump it whenever the weights a key names could change.
CACHE_VERSION = "1"


def cache_path(payload: dict[str, Any], *, cache_root: Path | None = None) -> Path:
    """The file of the weights ``payload`` names, in the cache of derived files (``None``: its default)."""
    key = stable_hash({**payload, "cache_version": CACHE_VERSION, "torch": torch.__version__.split("+")[0]})
    folder = derived_folder("prompt", "tiny-clip", "pretraining", fingerprint=key, version=CACHE_VERSION,
                            cache_root=cache_root)
    return folder / f"tiny-clip-{key}.safetensors"


def cached_clip_state(payload: dict[str, Any], train: Callable[[], dict[str, torch.Tensor]], *,
                      cache_root: Path | None = None, log: Any = None) -> dict[str, torch.Tensor]:
    """The weights ``payload`` names: loaded from the cache, or pre-trained by ``train()`` and stored there."""
    path = cache_path(payload, cache_root=cache_root)
    return cached_tensors(path, train, record={"payload": payload}, what=f"tiny CLIP {path.stem}", log=log)
