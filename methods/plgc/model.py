"""PLGC's pieces as pure torch functions: the NTK-based local/global weight and the decorrelation loss.

- :func:`private_jacobian`: per client, the Jacobian of its logits with respect to its private parameters,
  J of shape (S, m), for a given item table (local or global): the feature map of the empirical neural tangent
  kernel K = J J^T of the client's score function.
- :func:`ntk_alignment`: kernel-target alignment of that NTK with the client's labels y (in {-1, +1}):
  y^T K y / (||K||_F ||y||^2), in [0, 1]. Under gradient descent in the NTK regime the residual along y decays
  at a rate set by y^T K y / ||y||^2, so a table whose kernel aligns better with the client's data lets the
  client fit its own preferences faster.
- :func:`ntk_weight`: alpha = A_local / (A_local + A_global), the weight of the client's local item table (the
  one it fine-tuned in its last round) in the forward mix ``alpha * local + (1 - alpha) * global`` with the
  frozen global table it scores with (0.5 when both alignments vanish).
- :func:`decorrelation_loss`: redundancy reduction between embedding dimensions (the off-diagonal term of
  Barlow Twins, Zbontar et al. ICML 2021): the mean squared off-diagonal entry of the correlation matrix of the
  dimensions, over the minibatch's item embeddings of each client.
- :class:`PLGCView`: the two combined as the simulator's local-global view.

Reference:
    Shen, Mi, Zhao, Shen, Qian. "A Model-agnostic Strategy to Mitigate Embedding Degradation in Personalized
    Federated Recommendation." arXiv:2508.19591, 2025. See README.md for what is our reading of the paper.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "MIN_DECORRELATION_SAMPLES",
    "VARIANCE_EPS",
    "PLGCView",
    "decorrelation_loss",
    "ntk_alignment",
    "ntk_weight",
    "private_jacobian",
]

#: Guards divisions by a vanishing norm.
EPS = 1e-8
#: Added to each dimension's variance before standardising (as batch normalisation's epsilon): a dimension that
#: barely varies over the minibatch gets a small correlation instead of an unstable one.
VARIANCE_EPS = 1e-4
#: Fewer samples give no decorrelation loss: with two samples every correlation is +-1, with a few it is noise.
MIN_DECORRELATION_SAMPLES = 8


def private_jacobian(
    model: Any, private: dict[str, torch.Tensor], item_emb: torch.Tensor, dense: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Jacobian of each client's logits with respect to its private parameters (forward mode, vmapped).

    Args:
        model: A :class:`harness.tracks.fedrec.fedsim.FedModel`.
        private: Each private parameter, float32 of shape (B, ...).
        item_emb: float32 tensor of shape (B, S, dim), the embeddings of the items scored.
        dense: Each dense shared parameter, float32 of shape (B, ...).

    Returns:
        float32 tensor of shape (B, S, m), m the number of private parameters of one client (in the order of
        ``private``'s keys, each flattened). A model that gives its Jacobian in closed form
        (``model.private_jacobian``, e.g. matrix factorisation: the item embeddings) is asked for it; otherwise
        forward-mode autodiff costs m forward passes.
    """
    if getattr(model, "private_jacobian", None) is not None:
        return model.private_jacobian(private, item_emb, dense)
    from torch.func import jacfwd, vmap

    names = list(private)

    def logits_of_one(values: tuple[torch.Tensor, ...], emb: torch.Tensor, shared: dict[str, torch.Tensor]) -> Any:
        one = {name: value[None] for name, value in zip(names, values, strict=True)}
        return model.logits(one, emb[None], {k: v[None] for k, v in shared.items()})[0]

    jacobians = vmap(jacfwd(logits_of_one, argnums=0))(tuple(private[n] for n in names), item_emb, dense)
    n_clients, n_samples = item_emb.shape[:2]
    return torch.cat([j.reshape(n_clients, n_samples, -1) for j in jacobians], dim=-1)


def ntk_alignment(jacobian: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Kernel-target alignment of the empirical NTK K = J J^T with targets y = 2 * label - 1, per client.

    Computed without forming K (S x S): y^T K y = ||J^T y||^2 and ||K||_F = ||J^T J||_F, O(S m^2) per client.

    Args:
        jacobian: float32 tensor of shape (B, S, m).
        labels: float32 tensor of shape (B, S), 1 for positives, 0 for negatives.
        mask: bool tensor of shape (B, S), True on real samples (padding is left out).

    Returns:
        float32 tensor of shape (B,), in [0, 1]; 0 for a client without samples or with a zero Jacobian.
    """
    weight = mask.to(jacobian.dtype)
    target = (2 * labels - 1) * weight
    features = jacobian * weight[..., None]
    projected = torch.einsum("bsm,bs->bm", features, target)
    gram = torch.einsum("bsm,bsn->bmn", features, features)
    numerator = (projected**2).sum(1)
    denominator = torch.linalg.matrix_norm(gram) * (target**2).sum(1)
    return torch.where(denominator > EPS, numerator / denominator.clamp(min=EPS), torch.zeros_like(numerator))


def ntk_weight(local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
    """Weight alpha = local / (local + global) per client, 0.5 where both alignments are 0.

    Example:
        >>> ntk_weight(torch.tensor([0.3, 0.0]), torch.tensor([0.1, 0.0])).tolist()
        [0.75, 0.5]
    """
    total = local + global_
    return torch.where(total > EPS, local / total.clamp(min=EPS), torch.full_like(total, 0.5))


def decorrelation_loss(item_emb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared off-diagonal correlation between the embedding dimensions, per client.

    Each dimension is standardised over the client's real samples (mean 0, population variance plus
    :data:`VARIANCE_EPS`); C = Z^T Z / n is then the correlation matrix, and the loss is
    sum_{i != j} C_ij^2 / (d (d - 1)), in [0, 1]: 0 for uncorrelated dimensions, about 1 when every dimension is
    the same up to sign (full collapse).

    Args:
        item_emb: float32 tensor of shape (B, S, d), d >= 2.
        mask: bool tensor of shape (B, S), True on real samples.

    Returns:
        float32 tensor of shape (B,); 0 for a client with fewer than :data:`MIN_DECORRELATION_SAMPLES` samples.
    """
    dim = item_emb.shape[-1]
    weight = mask.to(item_emb.dtype)[..., None]
    count = weight.sum(1)  # (B, 1)
    mean = (item_emb * weight).sum(1) / count.clamp(min=1)
    centred = (item_emb - mean[:, None, :]) * weight
    variance = (centred**2).sum(1) / count.clamp(min=1)
    standard = centred / torch.sqrt(variance + VARIANCE_EPS)[:, None, :]
    correlation = torch.einsum("bsi,bsj->bij", standard, standard) / count.clamp(min=1)[..., None]
    off_diagonal = correlation - torch.diag_embed(torch.diagonal(correlation, dim1=1, dim2=2))
    loss = (off_diagonal**2).sum((1, 2)) / max(1, dim * (dim - 1))
    return torch.where(count.squeeze(1) >= MIN_DECORRELATION_SAMPLES, loss, torch.zeros_like(loss))


@dataclass
class PLGCView:
    """The simulator's local-global view of PLGC (:class:`harness.tracks.fedrec.fedsim.LocalGlobalView`).

    Attributes:
        weighting: ``"ntk"`` (alpha from :func:`ntk_weight` each round) or ``"fixed"`` (alpha = ``fixed_weight``).
        fixed_weight: The weight of the local table under ``"fixed"``.
        decorrelation_weight: Factor of :func:`decorrelation_loss` in each client's loss (0: none).
        ntk_samples: Samples of a client on which its NTK is taken each round.
    """

    weighting: str = "ntk"
    fixed_weight: float = 0.5
    decorrelation_weight: float = 1.0
    ntk_samples: int = 256

    @property
    def regulariser(self) -> Any:
        """The weighted decorrelation loss, or None when its weight is 0."""
        if self.decorrelation_weight == 0:
            return None
        factor = self.decorrelation_weight
        return lambda item_emb, mask: factor * decorrelation_loss(item_emb, mask)

    def weights(
        self,
        model: Any,
        private: dict[str, torch.Tensor],
        personal_rows: torch.Tensor,
        global_rows: torch.Tensor,
        dense: dict[str, torch.Tensor],
        batch: Any,
    ) -> torch.Tensor:
        """Weight alpha per client from the NTK alignments of its personal (local) and global rows.

        The kernel is taken on the client's first minibatch of the round (at most :attr:`ntk_samples` of its
        samples, in the epoch's random order): a uniform sample of its positives and negatives, at a cost that
        does not grow with the client's history.
        """
        n_clients = len(batch.users)
        if self.weighting == "fixed":
            return torch.full((n_clients,), float(self.fixed_weight))
        window = slice(0, self.ntk_samples)
        index = batch.samples[:, 0, window]
        labels, mask = batch.labels[:, 0, window], batch.sample_mask[:, 0, window]
        gather = index[..., None].expand(-1, -1, personal_rows.shape[-1])
        alignments = []
        for rows in (personal_rows, global_rows):
            emb = torch.gather(rows, 1, gather)
            alignments.append(ntk_alignment(private_jacobian(model, private, emb, dense), labels, mask))
        return ntk_weight(*alignments)
