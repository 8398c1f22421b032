"""Teaching-style track: multimodal items mapped to continuous style dimensions, scored by CCC.

Modules: :mod:`~harness.tracks.teaching.schema` (the tabular schema, its loaders and the grouped folds),
:mod:`~harness.tracks.teaching.synth` (the embedded default in that schema), :mod:`~harness.tracks.teaching.pmemo`
(PMEmo2019 into the schema), :mod:`~harness.tracks.teaching.track` (the track, its budget and data contract),
:mod:`~harness.tracks.teaching.method` (the base class of its methods, drop-one predictions, the missing-value
rule) and :mod:`~harness.tracks.teaching.figures`.
"""

from harness.tracks.teaching.schema import MultimodalTable, check_split, grouped_folds, load_described, load_table
from harness.tracks.teaching.track import (
    FOLDS,
    N_FOLDS,
    TeachingBudget,
    TeachingInputs,
    TeachingTrack,
    TeachingTrain,
    TeachingTruth,
    standardise,
)

__all__ = [
    "FOLDS",
    "N_FOLDS",
    "MultimodalTable",
    "TeachingBudget",
    "TeachingInputs",
    "TeachingTrack",
    "TeachingTrain",
    "TeachingTruth",
    "check_split",
    "grouped_folds",
    "load_described",
    "load_table",
    "standardise",
]
