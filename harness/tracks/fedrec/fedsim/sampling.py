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

__all__ = [
    "ClientBatch", "RoundLayout", "RoundSamples", "layout_round", "pack_clients", "sample_negatives", "sample_round",
]


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
    # negative j of participant p goes to indptr[p] + n_pos[p] + (j - first negative of p): one shift per participant
    neg_shift = indptr[:-1] + n_pos - (torch.cumsum(n_pos * n_negatives, 0) - n_pos * n_negatives)
    items[torch.arange(len(negatives)) + neg_shift[neg_owner]] = negatives
    keys = torch.rand(n_epochs, total, generator=generator)
    return RoundSamples(users, indptr, items, labels, keys, n_pos)


#: ``torch.rand`` draws float32 keys as multiples of 2**-24 in [0, 1): ``key * KEY_SCALE`` is an exact integer.
KEY_SCALE = 1 << 24


@dataclass(frozen=True)
class RoundLayout:
    """The round's index arrays, built once by :func:`layout_round`; every client batch is cut from them.

    Attributes:
        order: int64 tensor of shape (n_epochs, N), flat sample positions sorted by participant, then by key:
            participant p's samples in epoch e's order are ``order[e, indptr[p]:indptr[p + 1]]``.
        local: int64 tensor of shape (N,), each sample's row in its participant's compact item table.
        row_indptr: int64 tensor of shape (P + 1,); participant p's compact rows are
            ``row_items[row_indptr[p]:row_indptr[p + 1]]``.
        row_items: int64 tensor of shape (R,), the item of each compact row, ascending within a participant.
    """

    order: torch.Tensor
    local: torch.Tensor
    row_indptr: torch.Tensor
    row_items: torch.Tensor


def layout_round(samples: RoundSamples, n_items: int) -> RoundLayout:
    """Sort every participant's samples into its epoch orders and compact its item rows, for the whole round at once.

    Args:
        samples: The round's samples.
        n_items: Number of items.

    Returns:
        The round's :class:`RoundLayout`.

    Cost: one stable sort of the N samples per epoch (participant and key packed into one int64 when the keys
    are ``torch.rand`` draws, two stable sorts otherwise) and one ``unique`` of the (participant, item) pairs.
    """
    sizes = samples.indptr[1:] - samples.indptr[:-1]
    n_participants = len(sizes)
    owner = torch.repeat_interleave(torch.arange(n_participants), sizes)
    scaled = samples.keys * KEY_SCALE
    quantised = scaled.to(torch.int64)
    if torch.equal(quantised.to(scaled.dtype), scaled) and bool((quantised < KEY_SCALE).all()):
        order = torch.argsort((owner << 24) + quantised, dim=1, stable=True)
    else:  # keys from elsewhere: by key, then by participant, both stable
        by_key = torch.argsort(samples.keys, dim=1, stable=True)
        order = torch.gather(by_key, 1, torch.argsort(owner[by_key], dim=1, stable=True))
    code = owner * n_items + samples.items
    distinct, inverse = torch.unique(code, sorted=True, return_inverse=True)
    row_owner = distinct // n_items
    row_indptr = torch.zeros(n_participants + 1, dtype=torch.int64)
    row_indptr[1:] = torch.cumsum(torch.bincount(row_owner, minlength=n_participants), 0)
    return RoundLayout(order, inverse - row_indptr[owner], row_indptr, distinct - row_owner * n_items)


def _ragged(indptr: torch.Tensor, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (B, width) of the CSR segments ``chunk`` laid out as rows, and their mask; padding points at 0."""
    start, count = indptr[chunk], indptr[chunk + 1] - indptr[chunk]
    offset = torch.arange(int(count.max()) if len(chunk) else 0)
    valid = offset[None, :] < count[:, None]
    return torch.where(valid, start[:, None] + offset[None, :], 0), valid


def pack_clients(
    samples: RoundSamples, chunk: torch.Tensor, n_items: int, layout: RoundLayout | None = None
) -> ClientBatch:
    """Lay out the samples of the participants at positions ``chunk`` as padded per-client tensors.

    Args:
        samples: The round's samples.
        chunk: int64 tensor of shape (B,), positions in ``samples.users``.
        n_items: Number of items (for the per-client compaction of the item rows).
        layout: The round's :func:`layout_round` (built here when None; pass it when packing several chunks).

    Returns:
        The :class:`ClientBatch` of those B clients.
    """
    layout = layout if layout is not None else layout_round(samples, n_items)
    position, valid = _ragged(samples.indptr, chunk)
    ordered = layout.order[:, position].permute(1, 0, 2)  # (B, E, width), flat positions in epoch order
    sample_mask = valid[:, None, :].expand(ordered.shape).contiguous()
    sample_rows = torch.where(sample_mask, layout.local[ordered], 0)
    labels = torch.where(sample_mask, samples.labels[ordered], 0.0)
    row_position, item_mask = _ragged(layout.row_indptr, chunk)
    item_index = torch.where(item_mask, layout.row_items[row_position], 0)
    return ClientBatch(
        samples.users[chunk], item_index, item_mask, sample_rows, labels, sample_mask, samples.n_positives[chunk],
    )
