"""A federated-recommendation simulator in one process: client and server steps on plain tensors.

Every user is a client. The client step (:func:`client_update`) trains a batch of clients at once on their own
samples, each with its own copy of the parameters; the server step (:func:`accumulate_update`,
:func:`apply_fedavg`) averages the shared parameters they upload, weighted by their data; private parameters
never reach it. :func:`simulate` runs the rounds and keeps the state of the best validation round. The steps take
and return plain tensors, so another runtime (e.g. Flower client and server apps) can call them one client at a
time: :func:`client_update_loop` is that per-client form, and gives the same parameters.

Modules: :mod:`~harness.fedsim.models` (FedMF, FedNCF and PFedRec score models), :mod:`~harness.fedsim.sampling`
(the round's samples), :mod:`~harness.fedsim.client`, :mod:`~harness.fedsim.server`,
:mod:`~harness.fedsim.scoring` (candidate and full-ranking scores) and :mod:`~harness.fedsim.simulation`.
"""

from harness.fedsim.client import client_update, client_update_loop, item_embeddings, minibatch_loss
from harness.fedsim.models import MODELS, FedModel, MatrixFactorization, NeuralCF, PersonalHead, make_model
from harness.fedsim.sampling import ClientBatch, RoundSamples, pack_clients, sample_negatives, sample_round
from harness.fedsim.scoring import FedState, candidate_scores, full_scores, item_tables
from harness.fedsim.server import UpdateSums, accumulate_update, apply_fedavg, round_bytes
from harness.fedsim.simulation import FedConfig, FedData, FedResult, LocalGlobalView, simulate, validation_hit_rate

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
    "RoundSamples",
    "UpdateSums",
    "accumulate_update",
    "apply_fedavg",
    "candidate_scores",
    "client_update",
    "client_update_loop",
    "full_scores",
    "item_embeddings",
    "item_tables",
    "make_model",
    "minibatch_loss",
    "pack_clients",
    "round_bytes",
    "sample_negatives",
    "sample_round",
    "simulate",
    "validation_hit_rate",
]
