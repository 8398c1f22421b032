"""The training samples of one round, drawn for all participants at once, and their packing into client batches.

Each round, every participant trains on its own positives (its training items) and ``n_negatives`` fresh
negatives per positive, drawn uniformly from the items outside its exclusion row (``FedData.exclude``): its
training items, so its validation item can be drawn as its test item can, and validation mirrors test; under
PFedRec's sampling its validation and test items too. Its samples are shuffled anew for every local epoch.
Everything is drawn once per round from one generator (:func:`sample_round`), and each client's order depends on
its own keys only, so the vectorised client step and the per-client loop train on exactly the same samples in the
same order.

:func:`pack_clients` lays the samples of B clients out as padded tensors (:class:`ClientBatch`). A client's
item rows are compacted to the items it touches this round (``item_index``), so its local copy of the item
table is (U, dim) instead of (n_items, dim).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["ClientBatch", "RoundSamples", "pack_clients", "sample_negatives", "sample_round"]


@dataclass(frozen=True)
class RoundSamples:
    """The samples of every participant of one round, flat.

    Attributes:
        users: int64 tensor of shape (P,), the participants, ascending.
        indptr: int64 tensor of shape (P + 1,); participant p's samples are ``indptr[p]:indptr[p + 1]``.
        items: int64 tensor of shape (N,), item of each sample: the participant's positives, then its negatives.
        labels: float32 tensor of shape (N,), 1 for a positive, 0 for a negative.
        keys: float32 tensor of shape (n_epochs, N), a uniform random key per sample and epoch; a participant
            takes its samples in ascending key order in that epoch (a uniform random permutation, the same
            whichever clients it is packed with).
        n_positives: int64 tensor of shape (P,), training items of each participant (its FedAvg weight).
    """

    users: torch.Tensor
    indptr: torch.Tensor
    items: torch.Tensor
    labels: torch.Tensor
    keys: torch.Tensor
    n_positives: torch.Tensor


@dataclass(frozen=True)
class ClientBatch:
    """The samples of B clients as padded tensors: the plain-tensor input of a client step.

    Attributes:
        users: int64 tensor of shape (B,).
        item_index: int64 tensor of shape (B, U), the items a client touches this round (padding: item 0).
        item_mask: bool tensor of shape (B, U), True on real entries of ``item_index``.
        samples: int64 tensor of shape (B, n_epochs, S), the row of ``item_index`` of each sample, in the
            epoch's order (padding: row 0).
        labels: float32 tensor of shape (B, n_epochs, S).
        sample_mask: bool tensor of shape (B, n_epochs, S), True on real samples; they come first in each row.
        n_positives: int64 tensor of shape (B,), the clients' FedAvg weights.
    """

    users: torch.Tensor
    item_index: torch.Tensor
    item_mask: torch.Tensor
    samples: torch.Tensor
    labels: torch.Tensor
    sample_mask: torch.Tensor
    n_positives: torch.Tensor


def sample_negatives(users: torch.Tensor, exclude: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Draw one item per entry of ``users``, uniformly among the items that user has not touched.

    Args:
        users: int64 tensor of shape (n,), a user per draw.
        exclude: bool tensor of shape (n_users, n_items), True where the user touched the item.
        generator: Source of the draws (rejection sampling: redraws until no draw is excluded).

    Returns:
        int64 tensor of shape (n,).
    """
    n_items = exclude.shape[1]
    flat = exclude.reshape(-1)
    base = users * n_items
    draws = torch.randint(0, n_items, (len(users),), generator=generator)
    which = torch.nonzero(flat[base + draws]).squeeze(1)
    while len(which):
        draws[which] = torch.randint(0, n_items, (len(which),), generator=generator)
        which = which[flat[base[which] + draws[which]]]
    return draws


def sample_round(
    train_indptr: torch.Tensor,
    train_items: torch.Tensor,
    exclude: torch.Tensor,
    users: torch.Tensor,
    *,
    n_negatives: int,
    n_epochs: int,
    generator: torch.Generator,
) -> RoundSamples:
    """Draw the negatives and the per-epoch sample orders of one round for the participants ``users``.

    Args:
        train_indptr: int64 tensor of shape (n_users + 1,), CSR offsets of the training items.
        train_items: int64 tensor of shape (n_train,), every user's training items.
        exclude: bool tensor of shape (n_users, n_items), items a user may not draw as negatives.
        users: int64 tensor of shape (P,), the participants, ascending.
        n_negatives: Negatives per positive.
        n_epochs: Local epochs (one order per epoch).
        generator: Source of every draw of the round.

    Returns:
        The round's :class:`RoundSamples`.
    """
    starts, ends = train_indptr[users], train_indptr[users + 1]
    n_pos = ends - starts
    n_samples = n_pos * (1 + n_negatives)
    indptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(n_samples, 0)])
    owner = torch.repeat_interleave(torch.arange(len(users)), n_pos)
    pos_index = torch.arange(int(n_pos.sum())) - torch.repeat_interleave(torch.cumsum(n_pos, 0) - n_pos, n_pos)
    positives = train_items[starts[owner] + pos_index]
    neg_owner = torch.repeat_interleave(torch.arange(len(users)), n_pos * n_negatives)
    negatives = sample_negatives(users[neg_owner], exclude, generator)
    total = int(indptr[-1])
    items = torch.empty(total, dtype=torch.int64)
    labels = torch.zeros(total, dtype=torch.float32)
    pos_slot = indptr[:-1][owner] + pos_index
    items[pos_slot] = positives
    labels[pos_slot] = 1.0
    neg_index = torch.arange(len(negatives))
    neg_start = torch.cumsum(n_pos * n_negatives, 0) - n_pos * n_negatives
    neg_slot = indptr[:-1][neg_owner] + n_pos[neg_owner] + (neg_index - neg_start[neg_owner])
    items[neg_slot] = negatives
    keys = torch.rand(n_epochs, total, generator=generator)
    return RoundSamples(users, indptr, items, labels, keys, n_pos)


def pack_clients(samples: RoundSamples, chunk: torch.Tensor, n_items: int) -> ClientBatch:
    """Lay out the samples of the participants at positions ``chunk`` as padded per-client tensors.

    Args:
        samples: The round's samples.
        chunk: int64 tensor of shape (B,), positions in ``samples.users``.
        n_items: Number of items (for the per-client compaction of the item rows).

    Returns:
        The :class:`ClientBatch` of those B clients.
    """
    start, count = samples.indptr[chunk], samples.indptr[chunk + 1] - samples.indptr[chunk]
    width = int(count.max())
    offset = torch.arange(width)
    valid = offset[None, :] < count[:, None]
    position = torch.where(valid, start[:, None] + offset[None, :], start[:, None])
    items = samples.items[position]
    clients = torch.arange(len(chunk))[:, None].expand_as(items)
    present = torch.zeros(len(chunk), n_items, dtype=torch.bool)
    present[clients[valid], items[valid]] = True
    slot_of = torch.cumsum(present, 1) - 1  # row of each present item in its client's compact table
    row, item = torch.nonzero(present, as_tuple=True)
    width_u = int(present.sum(1).max())
    item_index = torch.zeros(len(chunk), width_u, dtype=torch.int64)
    item_mask = torch.zeros(item_index.shape, dtype=torch.bool)
    item_index[row, slot_of[row, item]] = item
    item_mask[row, slot_of[row, item]] = True
    local = torch.where(valid, slot_of[clients, items], torch.zeros_like(items))
    keys = torch.where(valid[None], samples.keys[:, position], torch.full((), 2.0))  # padding sorts last
    ordered = torch.argsort(keys, dim=2, stable=True).permute(1, 0, 2)  # (B, E, width), offsets in each client
    sample_rows = torch.gather(local[:, None, :].expand_as(ordered), 2, ordered)
    labels = torch.gather(samples.labels[position][:, None, :].expand(ordered.shape), 2, ordered)
    sample_mask = valid[:, None, :].expand(ordered.shape)
    return ClientBatch(
        samples.users[chunk], item_index, item_mask, sample_rows, labels, sample_mask.contiguous(),
        samples.n_positives[chunk],
    )
