"""Baselines of the teaching track, all scikit-learn estimators behind the track's method contract.

The mean predictor (the floor), ridge, support-vector regression and histogram gradient boosting per target
(:mod:`~baselines.teaching.linear`, :mod:`~baselines.teaching.trees`), and multi-layer perceptrons on the
concatenated modalities, one per target, or one per modality averaged (:mod:`~baselines.teaching.mlp`).
"""

from baselines.teaching.linear import MeanPredictor, Ridge, Svr
from baselines.teaching.mlp import LateFusion, MlpEarlyFusion, MlpSingleTask
from baselines.teaching.trees import Hgb

__all__ = ["Hgb", "LateFusion", "MeanPredictor", "MlpEarlyFusion", "MlpSingleTask", "Ridge", "Svr"]
