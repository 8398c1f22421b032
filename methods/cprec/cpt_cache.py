"""The continually pre-trained LM: computed once per dataset, budget, config and seed, kept in the derived cache.

Continual pre-training reads every domain's training sequences, which are the same whatever the target domain of
a job: the jobs of the second and third target domains of a dataset load the weights the first one stored. The
file is ``<cache>/seqrec/lm-cpt/<data>/v<CACHE_VERSION>-<key>/cpt-<key>.safetensors`` (:mod:`harness.cache`; the
cache folder is ``$PARBENCH_CACHE`` or its default), where ``<data>`` hashes the training arrays and titles of every
domain (:func:`data_fingerprint`) and ``<key>`` hashes that fingerprint, the budget fields pre-training reads, the
method's pre-training config, the seed, this cache version and the torch and transformers versions. A lock makes a
concurrent job wait for the first instead of pre-training twice; where the cache cannot be written the job
pre-trains in-process and its log says so (:func:`harness.cache.cached_tensors`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.api import stable_hash
from harness.cache import cached_tensors, derived_folder, resolve_cache_root
from harness.tracks.seqrec.contract import DomainSequences

__all__ = ["CACHE_VERSION", "cached_cpt_state", "cpt_cache_path", "data_fingerprint"]

#: Version of the cached pre-training recipe; bump it whenever the weights a key names could change.
CACHE_VERSION = "1"


def data_fingerprint(domains: Mapping[str, DomainSequences]) -> str:
    """16 hex characters of SHA-256 over every domain's name, titles, users, offsets, items and times."""
    digest = hashlib.sha256()
    for name in sorted(domains):
        dom = domains[name]
        digest.update(name.encode() + b"\0")
        digest.update("\n".join(dom.titles).encode() + b"\0")
        for array in (dom.users, dom.indptr, dom.items, dom.times):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes() + b"\0")
    return digest.hexdigest()[:16]


def cpt_cache_path(fingerprint: str, payload: Mapping[str, Any], *, cache_root: str | Path | None = None) -> Path:
    """The file of the pre-trained weights of ``payload`` for the data of ``fingerprint``."""
    import transformers

    full = {**dict(payload), "data": fingerprint, "cache_version": CACHE_VERSION,
            "torch": torch.__version__.split("+")[0], "transformers": transformers.__version__}
    key = stable_hash(full)
    folder = derived_folder("seqrec", "lm-cpt", fingerprint, fingerprint=fingerprint, version=CACHE_VERSION,
                            extra={"key": key}, cache_root=resolve_cache_root(cache_root))
    return folder / f"cpt-{key}.safetensors"


def cached_cpt_state(fingerprint: str, payload: Mapping[str, Any], compute: Callable[[], dict[str, torch.Tensor]], *,
                     use_cache: bool = True, log: Any = None,
                     cache_root: str | Path | None = None) -> dict[str, torch.Tensor]:
    """The pre-trained state (weights and curves): loaded from the cache, or computed by ``compute()`` and stored.

    Args:
        fingerprint: :func:`data_fingerprint` of the training data.
        payload: What the state depends on besides the data (JSON-serialisable).
        compute: Pre-trains and returns the state dict (CPU tensors, none sharing memory).
        use_cache: False computes in-process and stores nothing.
        log: The job's logger.
        cache_root: The cache of derived files (the track's ``--cache``); ``None``: ``$PARBENCH_CACHE`` or the default.
    """
    if not use_cache:
        return compute()
    path = cpt_cache_path(fingerprint, payload, cache_root=cache_root)
    record = {"payload": dict(payload), "data": fingerprint}
    return cached_tensors(path, compute, record=record, what=f"CPRec pre-trained LM {path.stem}", log=log)
