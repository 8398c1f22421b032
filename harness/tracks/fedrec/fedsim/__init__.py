"""A federated-recommendation simulator in one process: client and server steps on plain tensors.

Every user is a client. The client step (:func:`client_update`) trains a batch of clients at once on their own
samples, each with its own copy of the parameters; the server step (:func:`accumulate_update`,
:func:`apply_fedavg`) averages the shared parameters they upload, weighted by their data; private parameters
never reach it. :func:`simulate` runs the rounds and keeps the state of the best validation round. The steps take
and return plain tensors, so another runtime (e.g. Flower client and server apps) can call them one client at a
time: :func:`client_update_loop` is that per-client form, and gives the same parameters. For FedMF and PFedRec,
:mod:`~harness.tracks.fedrec.fedsim.compiled` runs the same client step for all participants of a round in one compiled,
parallel loop (numba); ``simulate`` takes it where it applies and gives the same run up to float rounding.

Modules: :mod:`~harness.tracks.fedrec.fedsim.models` (FedMF, FedNCF and PFedRec score models),
:mod:`~harness.tracks.fedrec.fedsim.sampling` (the round's samples), :mod:`~harness.tracks.fedrec.fedsim.client`,
:mod:`~harness.tracks.fedrec.fedsim.compiled`, :mod:`~harness.tracks.fedrec.fedsim.server`,
:mod:`~harness.tracks.fedrec.fedsim.personal` (the clients' personal item tables, stored as their own rows),
:mod:`~harness.tracks.fedrec.fedsim.scoring` (candidate and full-ranking scores) and
:mod:`~harness.tracks.fedrec.fedsim.simulation`.
"""

from harness.tracks.fedrec.fedsim import compiled
from harness.tracks.fedrec.fedsim.client import client_update, client_update_loop, item_embeddings, minibatch_loss
from harness.tracks.fedrec.fedsim.models import (
    MODELS,
    FedModel,
    MatrixFactorization,
    NeuralCF,
    PersonalHead,
    make_model,
)
from harness.tracks.fedrec.fedsim.personal import PersonalTables
from harness.tracks.fedrec.fedsim.sampling import (
    ClientBatch,
    RoundLayout,
    RoundSamples,
    layout_round,
    pack_clients,
    sample_negatives,
    sample_round,
)
from harness.tracks.fedrec.fedsim.scoring import FedState, candidate_scores, full_scores, item_tables
from harness.tracks.fedrec.fedsim.server import UpdateSums, accumulate_update, apply_fedavg, round_bytes
from harness.tracks.fedrec.fedsim.simulation import (
    FedConfig,
    FedData,
    FedResult,
    LocalGlobalView,
    simulate,
    validation_hit_rate,
)

__all__ = [
    "MODELS",
    "ClientBatch",
    "FedConfig",
    "FedData",
    "FedModel",
    "FedResult",
    "FedState",
    "LocalGlobalView",
    "MatrixFactorization",
    "NeuralCF",
    "PersonalHead",
    "PersonalTables",
    "RoundLayout",
    "RoundSamples",
    "UpdateSums",
    "accumulate_update",
    "apply_fedavg",
    "candidate_scores",
    "client_update",
    "client_update_loop",
    "compiled",
    "full_scores",
    "item_embeddings",
    "item_tables",
    "layout_round",
    "make_model",
    "minibatch_loss",
    "pack_clients",
    "round_bytes",
    "sample_negatives",
    "sample_round",
    "simulate",
    "validation_hit_rate",
]
