"""The federated baselines of the ``fedrec`` track: FedMF, FedNCF and PFedRec on the shared simulator.

Each is a thin adapter: it names its score model (:mod:`harness.tracks.fedrec.fedsim.models`); the budget fixes rounds,
participants, local epochs, negatives, embedding size and learning rates, identical for all.

References:
    Chai, Wang, Chen, Yang. "Secure Federated Matrix Factorization." IEEE Intelligent Systems 36(5), 2021
    (arXiv:1906.05108); Ammad-ud-din et al. "Federated Collaborative Filtering for Privacy-Preserving
    Personalized Recommendation System." arXiv:1901.09888, 2019 (FedMF).
    Perifanis, Efraimidis. "Federated Neural Collaborative Filtering." Knowledge-Based Systems 242, 2022
    (FedNCF).
    Zhang, Long, Zhou, Yan, Zhang, Zhang, Yang. "Dual Personalization on Federated Recommendation." IJCAI 2023
    (PFedRec).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from harness.tracks.fedrec import FederatedRecommender

__all__ = ["FedMF", "FedNCF", "PFedRec"]


class FedMF(FederatedRecommender):
    """Federated matrix factorisation: private user embedding, FedAvg of the item table."""

    name = "fedmf"
    paper = "arXiv:1906.05108 (Chai et al., IEEE Intelligent Systems 2021); arXiv:1901.09888"
    model_name = "mf"


class FedNCF(FederatedRecommender):
    """Federated NeuMF: private user embedding; item table, MLP and output layer averaged by FedAvg."""

    name = "fedncf"
    paper = "Perifanis & Efraimidis, Knowledge-Based Systems 242, 2022 (FedNCF)"
    model_name = "ncf"


class PFedRec(FederatedRecommender):
    """PFedRec: private score head; item table fine-tuned per client (dual personalisation), FedAvg of the tables."""

    name = "pfedrec"
    paper = "Zhang et al., IJCAI 2023 (Dual Personalization on Federated Recommendation)"
    model_name = "pfedrec"
