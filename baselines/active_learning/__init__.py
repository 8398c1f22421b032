"""Baselines of the ``active`` track: query strategies wrapped from scikit-activeml.

Random sampling, uncertainty sampling (least confidence, margin, entropy), information density,
core-set (k-center greedy) and QUIRE; each subclasses :class:`harness.tracks.active.QueryStrategy`
and only chooses rows, so the classifier, its retraining and the evaluation are identical for all.
"""

from baselines.active_learning.geometry import CoreSet, Quire
from baselines.active_learning.uncertainty import InformationDensity, RandomSampling, UncertaintySampling

__all__ = ["CoreSet", "InformationDensity", "Quire", "RandomSampling", "UncertaintySampling"]
