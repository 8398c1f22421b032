"""The ``fedrec`` track: federated recommendation, every user a client.

Modules: :mod:`~harness.tracks.fedrec.track` (the track, its budget and data contract),
:mod:`~harness.tracks.fedrec.split` (the leave-one-out protocol and its stored split),
:mod:`~harness.tracks.fedrec.method` (:class:`FederatedRecommender`, the base class of the federated methods),
:mod:`~harness.tracks.fedrec.fedsim` (the federated simulator: client and server steps, compiled client step),
:mod:`~harness.tracks.fedrec.synth` (the embedded default in the MovieLens-100K format) and
:mod:`~harness.tracks.fedrec.figures`. The simulator imports torch; it loads only when a method asks for it.
"""

from __future__ import annotations

from harness.tracks.fedrec.method import FederatedRecommender, fed_config, fedrec_predictions
from harness.tracks.fedrec.track import (
    N_CANDIDATES,
    SPECTRA,
    TRAINING_NEGATIVES,
    FedRecBudget,
    FedRecInputs,
    FedRecTrack,
    FedRecTrain,
    FedRecTruth,
    embedding_users,
    spectrum,
)

__all__ = [
    "N_CANDIDATES",
    "SPECTRA",
    "TRAINING_NEGATIVES",
    "FedRecBudget",
    "FedRecInputs",
    "FedRecTrack",
    "FedRecTrain",
    "FedRecTruth",
    "FederatedRecommender",
    "embedding_users",
    "fed_config",
    "fedrec_predictions",
    "spectrum",
]
