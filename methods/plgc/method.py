"""Adapter of PLGC to the ``fedrec`` track: a model-agnostic wrapper around FedMF, FedNCF or PFedRec.

The wrapped baseline keeps its score model, its training, its uploads and its budget; PLGC adds, on every
client, its local item table (the one it fine-tuned in its last round) kept beside the frozen global table, the
two mixed in the forward pass with an NTK-based weight per client, and a decorrelation loss on the item
embeddings during local training (:class:`methods.plgc.model.PLGCView`, :mod:`harness.fedsim.simulation`).
Ablations are configs: ``weighting="fixed"`` (alpha = ``fixed_weight``) and ``decorrelation_weight=0``.

Reference:
    Shen, Mi, Zhao, Shen, Qian. "A Model-agnostic Strategy to Mitigate Embedding Degradation in Personalized
    Federated Recommendation." arXiv:2508.19591, 2025.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.errors import BudgetError
from harness.tracks.fedrec_method import FederatedRecommender
from methods.plgc.model import PLGCView

__all__ = ["BASES", "PLGC"]

#: Baselines PLGC wraps -> their score model (:data:`harness.fedsim.models.MODELS`).
BASES = {"fedmf": "mf", "fedncf": "ncf", "pfedrec": "pfedrec"}
#: Ways to set the weight of the local table.
WEIGHTINGS = ("ntk", "fixed")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


class PLGC(FederatedRecommender):
    """Personalized Local-Global Collaboration on top of a federated baseline."""

    name = "plgc"
    kind = "method"
    paper = "arXiv:2508.19591 (Shen et al., 2025)"

    @dataclass(frozen=True)
    class Config:
        """Options of PLGC."""

        base: str = field(default="fedmf", metadata=_help("Baseline wrapped: fedmf, fedncf or pfedrec."))
        weighting: str = field(default="ntk", metadata=_help("Local/global weight: ntk (per client) or fixed."))
        fixed_weight: float = field(default=0.5, metadata=_help("Weight of the local table when weighting=fixed."))
        decorrelation_weight: float = field(
            default=1.0, metadata=_help("Factor of the decorrelation loss; 0 turns it off.")
        )

    def _checked(self) -> Any:
        config = self.config
        if config.base not in BASES:
            msg = f"config of method 'plgc': base must be one of {', '.join(BASES)}; got {config.base!r}."
            raise BudgetError(msg)
        if config.weighting not in WEIGHTINGS or not 0 <= config.fixed_weight <= 1:
            msg = (
                f"config of method 'plgc': weighting must be one of {', '.join(WEIGHTINGS)} and fixed_weight in "
                f"[0, 1]; got {config.weighting!r} and {config.fixed_weight}."
            )
            raise BudgetError(msg)
        if config.decorrelation_weight < 0:
            msg = f"config of method 'plgc': decorrelation_weight must be >= 0; got {config.decorrelation_weight}."
            raise BudgetError(msg)
        return config

    def build_model(self, budget: Any) -> Any:
        """The wrapped baseline's score model."""
        from harness.fedsim import make_model

        return make_model(BASES[self._checked().base], budget.embedding_dim)

    def make_view(self, budget: Any) -> PLGCView:
        """The local-global view: NTK (or fixed) weight and the decorrelation loss."""
        config = self._checked()
        return PLGCView(config.weighting, config.fixed_weight, config.decorrelation_weight)
