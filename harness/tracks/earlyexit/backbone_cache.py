"""The shared backbone of each seed, trained once and kept on disk beside the dataset.

Every job of a grid needs the backbone of its seed; the first job to ask trains it, the others load it. The file
lives in the dataset folder's cache (:data:`harness.cards.CACHE_FOLDER`, which the dataset's fingerprint leaves
out), under ``earlyexit/backbone-<key>.safetensors`` with a JSON record beside it. ``<key>`` hashes everything the
weights depend on (:func:`cache_key`): the cache version, the architecture, every budget field that shapes the
training, the checkpoint's content hash, the dataset's fingerprint and subset, the seed and the torch version. A
lock file (``fcntl.flock``) makes a second job of the same seed wait for the first instead of training twice;
the file is written under a temporary name and renamed, so a killed job leaves no half-written backbone.

Where the dataset folder cannot be written (a read-only copy), each job trains the backbone itself (the same
weights: training is deterministic for a seed on one machine) and says so in its log.

The cache is read with ``safetensors.torch.load`` from the file's bytes (no memory map and no open file is left
behind for the method to find).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from harness.api import stable_hash
from harness.cards import CACHE_FOLDER

__all__ = ["CACHE_VERSION", "cache_key", "cached_state", "cache_path"]

#: Version of the cached training recipe; bump it whenever the weights a key names could change.
CACHE_VERSION = "1"


def cache_key(payload: dict[str, Any]) -> str:
    """Hash of everything a backbone's weights depend on (``payload``), with the cache and torch versions."""
    return stable_hash({**payload, "cache_version": CACHE_VERSION, "torch": torch.__version__.split("+")[0]})


def cache_path(root: Path, key: str) -> Path:
    """``<root>/.parbench-cache/earlyexit/backbone-<key>.safetensors``."""
    return Path(root) / CACHE_FOLDER / "earlyexit" / f"backbone-{key}.safetensors"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing); the file descriptor is closed afterwards."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _load(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load

    return load(path.read_bytes())


def _save(path: Path, state: dict[str, torch.Tensor], record: dict[str, Any]) -> None:
    from safetensors.torch import save

    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    tmp.write_bytes(save({k: v.contiguous() for k, v in state.items()}))
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def cached_state(
    root: Path,
    payload: dict[str, Any],
    train: Callable[[], dict[str, torch.Tensor]],
    *,
    log: Any = None,
) -> dict[str, torch.Tensor]:
    """The weights ``payload`` names: loaded from the cache, or trained by ``train()`` and stored there.

    Args:
        root: The dataset folder.
        payload: JSON-serialisable description of everything the weights depend on (see :func:`cache_key`).
        train: Trains and returns the state dict (CPU tensors) when the cache has none.
        log: The job's logger.

    Returns:
        The state dict, CPU tensors.
    """
    key = cache_key(payload)
    path = cache_path(root, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = path.with_suffix(".lock")
        lock.touch(exist_ok=True)
    except OSError as exc:
        if log is not None:
            log.warning("backbone cache %s cannot be written (%s); training the backbone in this job", path.parent,
                        exc)
        return train()
    with _locked(lock):
        if path.is_file():
            if log is not None:
                log.info("shared backbone %s loaded from the cache", key)
            return _load(path)
        started = time.perf_counter()
        state = train()
        seconds = time.perf_counter() - started
        _save(path, state, {"key": key, "payload": payload, "train_seconds": round(seconds, 1)})
        if log is not None:
            log.info("shared backbone %s trained in %.1f s and cached", key, seconds)
        return state
