"""The ``seqrec`` track: sequential recommendation over several domains, LM-based and ID-based recommenders.

The track: :mod:`~harness.tracks.seqrec.track` (:class:`SeqRecTrack`, metrics), its budget and presets
(:mod:`~.budget`), the data contract (:mod:`~.contract`), the methods' base class (:mod:`~.method`, imports torch on
use), the figures (:mod:`~.figures`). Data: :mod:`~.loaders` (Amazon reviews 2014/2018/2023 JSON lines, MovieLens-1M
and -100K with titles), the protocol (:mod:`~.split`: k-core, leave-one-out by time, fixed negatives, kept in the
cache of derived files) and the generator of the embedded default (:mod:`~.synth`).
"""

from __future__ import annotations

from harness.tracks.seqrec.budget import BUDGETS, SeqRecBudget
from harness.tracks.seqrec.contract import DomainSequences, SeqRecInputs, SeqRecTrain, SeqRecTruth, pad_histories
from harness.tracks.seqrec.track import SeqRecTrack

__all__ = [
    "BUDGETS",
    "DomainSequences",
    "SeqRecBudget",
    "SeqRecInputs",
    "SeqRecTrack",
    "SeqRecTrain",
    "SeqRecTruth",
    "pad_histories",
]
