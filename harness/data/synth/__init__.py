"""Generators of the embedded synthetic datasets; each WRITES the official on-disk format of a real one.

A generator is a module with ``VERSION`` (bumped whenever its output changes) and
``generate(root, *, seed=0, ...)``, which writes a complete dataset into ``root`` deterministically
from the seed, atomically (a crash never leaves a half dataset: each writes inside
:func:`harness.data.synth._staging.staged`). The real dataset's loader then
reads it, so the code path that runs on the default data is the one that reads the real data.

Generators:

- :mod:`harness.data.synth.mvtec_ad`: MVTec AD layout; 5 texture and 2 object categories with
  scratches, cracks, holes, stains, contamination and missing or misplaced parts, and exact masks.
  Read with :func:`harness.data.mvtec_ad.load_index`; card ``datasets/synth_mvtec_ad.toml``.
"""

from __future__ import annotations

from harness.data.synth import mvtec_ad

__all__ = ["mvtec_ad"]
