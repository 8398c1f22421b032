"""Score models of federated recommendation, written for a batch of clients with per-client parameter copies.

Every model splits its parameters into

- **private** ones, one row per user, that never leave the client (a user embedding, a personal score head);
- the shared **item table**, shape (n_items, dim), that the server aggregates;
- shared **dense** parameters (MLP weights), that the server aggregates too.

:meth:`FedModel.logits` scores the items of B clients at once. Each client has its own copy of every
parameter: private tensors of shape (B, ...), item embeddings gathered per client (B, S, dim), dense tensors
of shape (B, ...) (a copy of the global ones, or an expanded view when nothing is trained). The clients never
mix: the logit of client b depends on the b-th slice of every input only, so the gradient of the sum of the
clients' losses gives each client the gradient of its own loss.

Models:

- :class:`MatrixFactorization` (FedMF; Chai et al., IEEE Intelligent Systems 2020; Ammad-ud-din et al.,
  arXiv:1901.09888): logit = <user embedding, item embedding>.
- :class:`NeuralCF` (FedNCF; Perifanis & Efraimidis, Knowledge-Based Systems 2022, after He et al. WWW 2017):
  NeuMF with one item table for both branches: GMF (user * item) beside an MLP on [user, item], then a linear
  output layer; the MLP and the output layer are shared dense parameters.
- :class:`PersonalHead` (PFedRec; Zhang et al., IJCAI 2023): no user embedding; a private linear score head
  (weight and bias) on the item embedding; trained in two steps per batch (head, then items) and the item table
  is personalised by local fine-tuning.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import ClassVar

import torch

__all__ = ["MODELS", "FedModel", "MatrixFactorization", "NeuralCF", "PersonalHead", "make_model"]


class FedModel(ABC):
    """Base class of the score models; subclasses set the class attributes and implement three methods.

    Attributes:
        update_groups: Parameter groups stepped one after the other on each batch, each a tuple of
            ``"private"``, ``"items"`` and ``"dense"``; one group is a joint step.
        personalised_items: True when each client scores with its own fine-tuned item table (PFedRec).
    """

    update_groups: ClassVar[tuple[tuple[str, ...], ...]] = (("private", "items", "dense"),)
    personalised_items: ClassVar[bool] = False

    def __init__(self, dim: int) -> None:
        self.dim = dim

    @abstractmethod
    def init_private(self, n_users: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Return the private parameters of every user, each a float32 tensor of shape (n_users, ...)."""

    def init_shared(self, n_items: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Return the item table, float32 of shape (n_items, dim), and the dense shared parameters."""
        items = torch.randn(n_items, self.dim, generator=generator) * (1.0 / math.sqrt(self.dim))
        return items, {}

    @abstractmethod
    def logits(
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Score the items of B clients.

        Args:
            private: Each private parameter, float32 of shape (B, ...).
            item_emb: float32 tensor of shape (B, S, dim), the embeddings of the items to score.
            dense: Each dense shared parameter, float32 of shape (B, ...).

        Returns:
            float32 tensor of shape (B, S), logits (the score before the sigmoid).
        """

    #: Optional ``private_jacobian(private, item_emb, dense) -> (B, S, m)``: the Jacobian of the logits with
    #: respect to the private parameters in closed form (models linear in them); None: computed by autodiff.
    private_jacobian = None

    #: Optional ``logit_vjp(private, item_emb, dense, grad) -> (private grads, item_emb grad, dense grads)``:
    #: the vector-Jacobian product of the logits with ``grad`` (B, S) in closed form, so the client step needs
    #: no autograd graph; None: the client step uses autograd.
    logit_vjp = None


class MatrixFactorization(FedModel):
    """FedMF: logit = <p_u, q_i>; private user embedding p_u, shared item table q."""

    def init_private(self, n_users: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """User embeddings drawn from N(0, 1/dim)."""
        return {"user": torch.randn(n_users, self.dim, generator=generator) * (1.0 / math.sqrt(self.dim))}

    def logits(
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Inner product of each client's user embedding with the item embeddings."""
        return torch.einsum("bd,bsd->bs", private["user"], item_emb)

    def private_jacobian(  # type: ignore[override]
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Jacobian d logit / d user embedding: the item embedding, (B, S, dim)."""
        return item_emb

    def logit_vjp(  # type: ignore[override]
        self,
        private: dict[str, torch.Tensor],
        item_emb: torch.Tensor,
        dense: dict[str, torch.Tensor],
        grad: torch.Tensor,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Gradients of ``sum(grad * logits)``: user sum_s g_s q_s (B, dim), item rows g_s p_u (B, S, dim)."""
        user = private["user"]
        return (
            {"user": torch.bmm(grad[:, None, :], item_emb).squeeze(1)},
            grad[..., None] * user[:, None, :],
            {},
        )


class NeuralCF(FedModel):
    """FedNCF: NeuMF with one shared item table; MLP [2 dim -> dim -> dim/2] and output layer shared."""

    def init_private(self, n_users: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """User embeddings drawn from N(0, 1/dim)."""
        return {"user": torch.randn(n_users, self.dim, generator=generator) * (1.0 / math.sqrt(self.dim))}

    def init_shared(self, n_items: int, generator: torch.Generator) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Item table from N(0, 1/dim); MLP and output weights uniform as torch.nn.Linear, biases zero."""
        items, _ = super().init_shared(n_items, generator)
        d, h = self.dim, max(1, self.dim // 2)

        def uniform(fan_in: int, *shape: int) -> torch.Tensor:
            bound = 1.0 / math.sqrt(fan_in)
            return (torch.rand(*shape, generator=generator) * 2 - 1) * bound

        dense = {
            "w1": uniform(2 * d, 2 * d, d), "b1": torch.zeros(d),
            "w2": uniform(d, d, h), "b2": torch.zeros(h),
            "w_out": uniform(d + h, d + h), "b_out": torch.zeros(1),
        }
        return items, dense

    def logits(
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """GMF and MLP branches on (user, item), concatenated, then the output layer.

        Computed without materialising [user, item] per sample: the first MLP layer splits into a user part
        (once per client) and an item part, and the GMF part of the output layer is <item, user * w_gmf>.
        """
        d = self.dim
        user, w1, w_out = private["user"], dense["w1"], dense["w_out"]
        user_part = torch.bmm(user[:, None, :], w1[:, :d, :]) + dense["b1"][:, None, :]  # (B, 1, d)
        hidden = torch.relu(torch.bmm(item_emb, w1[:, d:, :]) + user_part)
        hidden = torch.relu(torch.bmm(hidden, dense["w2"]) + dense["b2"][:, None, :])
        gmf = torch.bmm(item_emb, (user * w_out[:, :d])[:, :, None])
        mlp = torch.bmm(hidden, w_out[:, d:, None])
        return (gmf + mlp).squeeze(2) + dense["b_out"]

    def private_jacobian(  # type: ignore[override]
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Jacobian d logit / d user embedding by the chain rule through the two ReLU layers: (B, S, dim).

        d logit / d u = item * w_gmf + W1_user (relu1' * (W2 (relu2' * w_mlp))), per sample.
        """
        d = self.dim
        user, w1, w_out = private["user"], dense["w1"], dense["w_out"]
        first = torch.bmm(item_emb, w1[:, d:, :]) + torch.bmm(user[:, None, :], w1[:, :d, :]) + dense["b1"][:, None, :]
        second = torch.bmm(torch.relu(first), dense["w2"]) + dense["b2"][:, None, :]
        back = (second > 0) * w_out[:, None, d:]  # (B, S, h)
        back = torch.bmm(back, dense["w2"].transpose(1, 2)) * (first > 0)  # (B, S, dim)
        return item_emb * w_out[:, None, :d] + torch.bmm(back, w1[:, :d, :].transpose(1, 2))


class PersonalHead(FedModel):
    """PFedRec: logit = w_u . q_i + b_u with a private head (w_u, b_u); the item table is fine-tuned per client."""

    update_groups = (("private",), ("items", "dense"))
    personalised_items = True

    def init_private(self, n_users: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Head weights uniform as torch.nn.Linear(dim, 1); biases zero."""
        bound = 1.0 / math.sqrt(self.dim)
        weight = (torch.rand(n_users, self.dim, generator=generator) * 2 - 1) * bound
        return {"weight": weight, "bias": torch.zeros(n_users)}

    def logits(
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Each client's linear head on the item embeddings."""
        return torch.einsum("bd,bsd->bs", private["weight"], item_emb) + private["bias"][:, None]

    def private_jacobian(  # type: ignore[override]
        self, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Jacobian d logit / d (weight, bias): (item embedding, 1), (B, S, dim + 1)."""
        return torch.cat([item_emb, torch.ones_like(item_emb[..., :1])], dim=-1)

    def logit_vjp(  # type: ignore[override]
        self,
        private: dict[str, torch.Tensor],
        item_emb: torch.Tensor,
        dense: dict[str, torch.Tensor],
        grad: torch.Tensor,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor]]:
        """Gradients of ``sum(grad * logits)``: weight sum_s g_s q_s, bias sum_s g_s, item rows g_s w_u."""
        return (
            {"weight": torch.bmm(grad[:, None, :], item_emb).squeeze(1), "bias": grad.sum(1)},
            grad[..., None] * private["weight"][:, None, :],
            {},
        )


#: Models by name.
MODELS: dict[str, type[FedModel]] = {"mf": MatrixFactorization, "ncf": NeuralCF, "pfedrec": PersonalHead}


def make_model(name: str, dim: int) -> FedModel:
    """Build model ``name`` (a key of :data:`MODELS`) with embeddings of size ``dim``.

    Raises:
        ValueError: Unknown name; lists the known ones.

    Example:
        >>> make_model("mf", 8).dim
        8
    """
    if name not in MODELS:
        msg = f"model {name!r} is unknown; known models: {', '.join(sorted(MODELS))}."
        raise ValueError(msg)
    return MODELS[name](dim)
