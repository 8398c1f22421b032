"""Adapter of PLGC to the ``fedrec`` track: a model-agnostic wrapper around FedMF, FedNCF or PFedRec.

The wrapped baseline keeps its score model, its training, its uploads and its budget; PLGC adds, on every
client, its local item table (the one it fine-tuned in its last round) kept beside the frozen global table, the
two mixed in the forward pass with an NTK-based weight per client, and a decorrelation loss on the item
embeddings during local training (:class:`methods.plgc.model.PLGCView`, :mod:`harness.tracks.fedrec.fedsim.simulation`).
Ablations are configs: ``weighting="fixed"`` (alpha = ``fixed_weight``) and ``decorrelation_weight=0``.

Reference:
    Shen, Mi, Zhao, Shen, Qian. "A Model-agnostic Strategy to Mitigate Embedding Degradation in Personalized
    Federated Recommendation." arXiv:2508.19591, 2025.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.options import option
from harness.tracks.fedrec import FederatedRecommender
from methods.plgc.model import PLGCView

__all__ = ["BASES", "PLGC"]

#: Baselines PLGC wraps -> their score model (:data:`harness.tracks.fedrec.fedsim.models.MODELS`).
BASES = {"fedmf": "mf", "fedncf": "ncf", "pfedrec": "pfedrec"}
#: Ways to set the weight of the local table.
WEIGHTINGS = ("ntk", "fixed")



class PLGC(FederatedRecommender):
    """Personalized Local-Global Collaboration on top of a federated baseline."""

    name = "plgc"
    kind = "method"
    paper = "arXiv:2508.19591 (Shen et al., 2025)"

    @dataclass(frozen=True)
    class Config:
        """Options of PLGC."""

        base: str = option("fedmf", "Baseline wrapped: fedmf, fedncf or pfedrec.", choices=BASES)
        weighting: str = option("ntk", "Local/global weight: ntk (per client) or fixed.", choices=WEIGHTINGS)
        fixed_weight: float = option(0.5, "Weight of the local table when weighting=fixed.", ge=0, le=1)
        decorrelation_weight: float = option(1.0, "Factor of the decorrelation loss; 0 turns it off.", ge=0)


    def build_model(self, budget: Any) -> Any:
        """The wrapped baseline's score model."""
        from harness.tracks.fedrec.fedsim import make_model

        return make_model(BASES[self.config.base], budget.embedding_dim)

    def make_view(self, budget: Any) -> PLGCView:
        """The local-global view: NTK (or fixed) weight and the decorrelation loss."""
        config = self.config
        return PLGCView(config.weighting, config.fixed_weight, config.decorrelation_weight)
