"""The ``earlyexit`` track (data side): image-classification datasets for early-exit vision transformers.

Data: :mod:`~harness.tracks.earlyexit.cifar` (CIFAR-10 and CIFAR-100 in the python pickle layout, loaders and
writer), :mod:`~harness.tracks.earlyexit.image_folder` (any ``train/<class>``, ``val/<class>`` layout), both into
the :class:`ImageClassIndex` of :mod:`~harness.tracks.earlyexit._index`; the embedded defaults written in the
CIFAR-10 layout: :mod:`~harness.tracks.earlyexit.synth` (ten shape, colour and texture classes with a spread of
difficulty) and :mod:`~harness.tracks.earlyexit.sklearn_digits` (scikit-learn's digits, upscaled).
"""

from __future__ import annotations

from harness.tracks.earlyexit._index import INDEX_COLUMNS, SPLITS, ImageClassIndex

__all__ = ["INDEX_COLUMNS", "SPLITS", "ImageClassIndex"]
