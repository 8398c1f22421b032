"""Teaching-style track (multimodal items with continuous style dimensions): the schema and the synthetic default.

Modules: :mod:`~harness.tracks.teaching.schema` (the tabular schema, its loader and the grouped folds) and
:mod:`~harness.tracks.teaching.synth` (the embedded default in that schema). The track itself is not registered
yet.
"""

from harness.tracks.teaching.schema import MultimodalTable, check_split, grouped_folds, load_table

__all__ = ["MultimodalTable", "check_split", "grouped_folds", "load_table"]
