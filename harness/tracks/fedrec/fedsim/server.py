"""The server step: FedAvg of the shared parameters, weighted by the clients' data, and the bytes of a round.

Clients upload the change of the shared parameters they trained: for the item table only the rows they touched
(``item_index``), for the dense parameters the whole change. :func:`accumulate_update` adds the weighted changes
of a batch of clients to running sums (one call per batch of a round); :func:`apply_fedavg` then moves the global
parameters by the weighted mean change,

    global <- global + server_lr * sum_c w_c delta_c / sum_c w_c,

which with ``server_lr = 1`` equals FedAvg of the clients' full tables (an untouched row's change is zero).
Private parameters are not arguments of either function: they never reach the server.

Bytes (float32 parameters, int64 row ids): a participant downloads the item table and the dense parameters,
and uploads its touched rows with their ids and the dense change (:func:`round_bytes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["FLOAT_BYTES", "INDEX_BYTES", "UpdateSums", "accumulate_update", "apply_fedavg", "round_bytes"]

#: Bytes of a float32 parameter.
FLOAT_BYTES = 4
#: Bytes of a row id sent with an item row.
INDEX_BYTES = 8


@dataclass
class UpdateSums:
    """Running weighted sums of the clients' changes in one round.

    Attributes:
        items: float32 tensor of shape (n_items, dim), sum of w_c times the change of each row.
        dense: Sum of w_c times the change of each dense parameter (global shapes).
        weight: Sum of the weights w_c of the clients added so far.
    """

    items: torch.Tensor
    dense: dict[str, torch.Tensor] = field(default_factory=dict)
    weight: float = 0.0

    @classmethod
    def zeros_like(cls, items: torch.Tensor, dense: dict[str, torch.Tensor]) -> UpdateSums:
        """Empty sums shaped like the global parameters."""
        return cls(torch.zeros_like(items), {k: torch.zeros_like(v) for k, v in dense.items()})


def accumulate_update(
    sums: UpdateSums,
    item_index: torch.Tensor,
    item_mask: torch.Tensor,
    item_delta: torch.Tensor,
    dense_delta: dict[str, torch.Tensor],
    weights: torch.Tensor,
) -> None:
    """Add the weighted uploads of B clients to ``sums`` (in place).

    Args:
        sums: The round's running sums.
        item_index: int64 tensor of shape (B, U), the item of each uploaded row.
        item_mask: bool tensor of shape (B, U), True on real rows.
        item_delta: float32 tensor of shape (B, U, dim), the change of each row.
        dense_delta: Change of each dense parameter, float32 of shape (B, ...).
        weights: Tensor of shape (B,), each client's FedAvg weight (its number of training items).
    """
    w = weights.to(item_delta.dtype)
    weighted = item_delta * (w[:, None] * item_mask)[..., None]
    sums.items.index_add_(0, item_index.reshape(-1), weighted.reshape(-1, item_delta.shape[-1]))
    for name, delta in dense_delta.items():
        sums.dense[name] += torch.tensordot(w, delta, dims=1)
    sums.weight += float(w.sum())


def apply_fedavg(
    items: torch.Tensor, dense: dict[str, torch.Tensor], sums: UpdateSums, *, server_lr: float = 1.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Return the new global item table and dense parameters: the weighted mean change, times ``server_lr``.

    Example:
        >>> sums = UpdateSums(torch.ones(2, 1) * 6.0, {}, 3.0)
        >>> apply_fedavg(torch.zeros(2, 1), {}, sums)[0].flatten().tolist()
        [2.0, 2.0]
    """
    if sums.weight <= 0:
        return items, dense
    scale = server_lr / sums.weight
    return items + scale * sums.items, {k: v + scale * sums.dense[k] for k, v in dense.items()}


def round_bytes(
    n_participants: int, n_uploaded_rows: int, n_items: int, dim: int, n_dense: int
) -> tuple[float, float]:
    """Bytes uploaded and downloaded by all participants of a round, as (up, down).

    Args:
        n_participants: Clients of the round.
        n_uploaded_rows: Item rows uploaded, summed over the clients.
        n_items: Rows of the item table.
        dim: Embedding size.
        n_dense: Dense shared parameters (numbers).
    """
    up = n_uploaded_rows * (dim * FLOAT_BYTES + INDEX_BYTES) + n_participants * n_dense * FLOAT_BYTES
    down = n_participants * (n_items * dim + n_dense) * FLOAT_BYTES
    return float(up), float(down)
