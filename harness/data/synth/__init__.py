"""Building blocks of the embedded synthetic datasets that more than one track draws on.

A track's generator (``harness/tracks/<name>/synth.py``) is a module with ``VERSION`` (bumped whenever its
output changes) and ``generate(root, *, seed=0, ...)``, which writes a complete dataset into ``root``
deterministically from the seed, in the official on-disk format of a real dataset, atomically: it writes inside
:func:`harness.data.synth._staging.staged`, so a crash never leaves half a dataset. The real dataset's loader
then reads it, so the code path that runs on the default data is the one that reads the real data.

Shared here: :mod:`~harness.data.synth._staging` (the atomic staging frame), :mod:`~harness.data.synth._draw`
(smooth noise, curves, windows, quantisation) and :mod:`~harness.data.synth._textures` (texture images from
scikit-image photographs and procedural ones).
"""

from __future__ import annotations

__all__: list[str] = []
