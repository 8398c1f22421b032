"""The shared backbone of each seed, trained once and kept in the cache of derived files.

Every job of a grid needs the backbone of its seed; the first job to ask trains it, the others load it. The file
lives in the cache of derived files (:mod:`harness.cache`; ``--cache``, never the dataset folder), in the folder
:func:`backbone_folder` gives (``<cache>/earlyexit/<dataset>/<subset>/v<CACHE_VERSION>-<key>/``, keyed by the
dataset's fingerprint), under ``backbone-<key>.safetensors`` with a JSON record beside it. ``<key>`` hashes
everything the weights depend on (:func:`cache_key`): the cache version, the architecture, every budget field that
shapes the training, the checkpoint's content hash, the dataset's fingerprint and subset, the seed and the torch
version. A lock file (``fcntl.flock``) makes a second job of the same seed wait for the first instead of training
twice; the file is written under a temporary name and renamed, so a killed job leaves no half-written backbone.

Where the cache cannot be written, each job trains the backbone itself (the same weights: training is
deterministic for a seed on one machine) and says so in its log.

The cache is read with ``safetensors.torch.load`` from the file's bytes (no memory map and no open file is left
behind for the method to find).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.api import stable_hash
from harness.cache import cached_tensors, derived_folder

__all__ = ["CACHE_VERSION", "backbone_folder", "cache_key", "cache_path", "cached_state"]

#: Version of the cached training recipe; bump it whenever the weights a key names could change.
CACHE_VERSION = "1"


def cache_key(payload: dict[str, Any]) -> str:
    """Hash of everything a backbone's weights depend on (``payload``), with the cache and torch versions."""
    return stable_hash({**payload, "cache_version": CACHE_VERSION, "torch": torch.__version__.split("+")[0]})


def backbone_folder(dataset: str, subset: str, fingerprint: str, *, cache_root: Path | None = None) -> Path:
    """The cache folder of the backbones of one dataset subset (:func:`harness.cache.derived_folder`).

    Args:
        dataset: The dataset card's name.
        subset: The subset.
        fingerprint: The dataset folder's fingerprint.
        cache_root: The cache of derived files; ``None`` means its default.
    """
    return derived_folder("earlyexit", dataset, subset, fingerprint=fingerprint, version=CACHE_VERSION,
                          cache_root=cache_root)


def cache_path(folder: Path, key: str) -> Path:
    """``<folder>/backbone-<key>.safetensors``."""
    return Path(folder) / f"backbone-{key}.safetensors"


def cached_state(
    folder: Path,
    payload: dict[str, Any],
    train: Callable[[], dict[str, torch.Tensor]],
    *,
    log: Any = None,
) -> dict[str, torch.Tensor]:
    """The weights ``payload`` names: loaded from the cache, or trained by ``train()`` and stored there.

    Args:
        folder: The cache folder of the dataset subset's backbones (:func:`backbone_folder`).
        payload: JSON-serialisable description of everything the weights depend on (see :func:`cache_key`).
        train: Trains and returns the state dict (CPU tensors) when the cache has none.
        log: The job's logger.

    Returns:
        The state dict, CPU tensors.
    """
    key = cache_key(payload)
    return cached_tensors(cache_path(folder, key), train, record={"key": key, "payload": payload},
                          what=f"shared backbone {key}", log=log)
