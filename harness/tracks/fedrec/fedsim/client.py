"""The client step: local training of B clients at once on their own samples, and the same step client by client.

:func:`client_update` trains B clients in one set of batched tensor operations. Each client has its own copy of
every parameter (private (B, ...), item rows (B, U, dim), dense (B, ...)); each step sums the clients' losses
and takes the gradient, which gives every client the gradient of its own loss (a client's loss depends on its
own slice only). Minibatches follow a PyTorch ``DataLoader`` without ``drop_last``: step k of an epoch takes
samples ``k * batch_size`` to ``(k + 1) * batch_size`` of the epoch's order, and a client whose samples are used
up sits the step out (no update), so clients with 300 and 3000 samples train exactly as they would alone.

:func:`client_update_loop` is the same local training written the plain way, for one client with
``torch.optim.SGD``; the tests and ``benchmarks/fedrec_speed.py`` check that the two give the same parameters.

Loss: binary cross-entropy on the logits, the mean over the minibatch's samples (as PFedRec), plus an optional
per-client regulariser of the minibatch's item embeddings. Plain SGD: item rows with ``item_lr``, private and
dense shared parameters with ``lr``. (A row's gradient is a 1/batch share of the minibatch mean and FedAvg
dilutes it over the clients that did not touch the row, hence a much larger ``item_lr``; PFedRec scales its
item learning rate the same way, by the number of items.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from harness.tracks.fedrec.fedsim.models import FedModel

__all__ = ["Regulariser", "client_update", "client_update_loop", "item_embeddings", "minibatch_loss"]

#: ``regulariser(item_emb (B, S, dim), mask (B, S)) -> (B,)``: an extra per-client loss term.
Regulariser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def item_embeddings(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Gather the embeddings of the sampled rows.

    Args:
        rows: float32 tensor of shape (B, U, dim), each client's item rows.
        index: int64 tensor of shape (B, S), rows of the samples.

    Returns:
        float32 tensor of shape (B, S, dim).
    """
    return torch.gather(rows, 1, index[..., None].expand(-1, -1, rows.shape[-1]))


def minibatch_loss(
    model: FedModel,
    private: dict[str, torch.Tensor],
    item_emb: torch.Tensor,
    dense: dict[str, torch.Tensor],
    labels: torch.Tensor,
    mask: torch.Tensor,
    *,
    regulariser: Regulariser | None = None,
) -> torch.Tensor:
    """Per-client loss of one minibatch: mean BCE over the client's real samples, plus the regulariser.

    Args:
        model: The score model.
        private: Each private parameter, float32 of shape (B, ...).
        item_emb: float32 tensor of shape (B, S, dim), the embeddings of the minibatch's items.
        dense: Each dense shared parameter, float32 of shape (B, ...).
        labels: float32 tensor of shape (B, S), 1 for positives.
        mask: bool tensor of shape (B, S), True on real samples.
        regulariser: Optional extra loss of the item embeddings.

    Returns:
        float32 tensor of shape (B,); 0 for a client without a sample in this minibatch (plus its regulariser).
    """
    loss, _, _ = _mean_bce(model.logits(private, item_emb, dense), labels, mask)
    if regulariser is not None:
        loss = loss + regulariser(item_emb, mask)
    return loss


def _mean_bce(
    logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each client's mean BCE over its real samples (B,), with the sample weights (B, S) and counts (B,)."""
    weight = mask.to(logits.dtype)
    count = weight.sum(1).clamp(min=1)
    per_sample = _bce_with_logits(logits, labels) * weight
    return per_sample.sum(1) / count, weight, count


def _bce_with_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample BCE on logits, max(x, 0) - x * y + log(1 + exp(-|x|)), in vectorised kernels.

    The same value as ``F.binary_cross_entropy_with_logits(..., reduction="none")`` up to float rounding (its
    ``log1p`` runs element by element on the CPU, several times slower); exp(-|x|) <= 1 keeps it stable.
    """
    return logits.clamp(min=0) - logits * labels + torch.log(1 + torch.exp(-logits.abs()))


def _lr(group_member: str, lr: float, item_lr: float) -> float:
    return item_lr if group_member == "items" else lr


def client_update(
    model: FedModel,
    private: dict[str, torch.Tensor],
    rows: torch.Tensor,
    dense: dict[str, torch.Tensor],
    samples: torch.Tensor,
    labels: torch.Tensor,
    sample_mask: torch.Tensor,
    *,
    batch_size: int,
    lr: float,
    item_lr: float,
    regulariser: Regulariser | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Train B clients locally for every epoch of ``samples``; return their new parameters and mean loss.

    Args:
        model: The score model.
        private: Each private parameter, float32 of shape (B, ...).
        rows: float32 tensor of shape (B, U, dim), each client's local item rows (see
            :class:`~harness.tracks.fedrec.fedsim.sampling.ClientBatch`).
        dense: Each dense shared parameter, a per-client float32 copy of shape (B, ...).
        samples: int64 tensor of shape (B, n_epochs, S), the row of each sample in epoch order.
        labels: float32 tensor of shape (B, n_epochs, S).
        sample_mask: bool tensor of shape (B, n_epochs, S), real samples first in each row.
        batch_size: Samples per local minibatch.
        lr: Learning rate of the private and the dense shared parameters.
        item_lr: Learning rate of the item rows.
        regulariser: Optional extra loss of each client's minibatch item embeddings.

    Returns:
        The trained private parameters, item rows and dense parameters (new tensors, same shapes), and the
        float32 tensor of shape (B,) of each client's mean minibatch loss over its last epoch.

    Cost: per step O(B * batch_size * dim) for the embeddings and their gradients (a gradient reaches only the
    rows of the minibatch, added back with ``index_put_``), plus the model's own cost; the clients of a step
    whose samples are used up are left out of it.
    """
    private = {k: v.clone() for k, v in private.items()}
    rows = rows.clone()
    dense = {k: v.clone() for k, v in dense.items()}
    n_clients, n_epochs, _ = samples.shape
    counts = sample_mask[:, 0, :].sum(1)
    n_steps = math.ceil(int(counts.max()) / batch_size) if n_clients else 0
    loss_sum = torch.zeros(n_clients)
    everyone = torch.arange(n_clients)
    for epoch in range(n_epochs):
        loss_sum.zero_()
        for step in range(n_steps):
            window = slice(step * batch_size, (step + 1) * batch_size)
            mask = sample_mask[:, epoch, window]
            active = torch.nonzero(mask.any(1)).squeeze(1)
            if len(active) == n_clients:
                index, target, subset = samples[:, epoch, window], labels[:, epoch, window], None
                active = everyone
            else:  # clients sorted by size in a chunk: the windows of the small ones run dry first
                mask = mask[active]
                width = int(mask.sum(1).max())
                window = slice(step * batch_size, step * batch_size + width)
                mask = mask[:, :width]
                index, target, subset = samples[active, epoch, window], labels[active, epoch, window], active
            loss = _step(model, private, rows, dense, subset, active, index, target, mask, lr=lr, item_lr=item_lr,
                         regulariser=regulariser)
            loss_sum[active] += loss
    n_batches = torch.ceil(counts / batch_size).clamp(min=1)
    return private, rows, dense, loss_sum / n_batches


def _step(
    model: FedModel,
    private: dict[str, torch.Tensor],
    rows: torch.Tensor,
    dense: dict[str, torch.Tensor],
    subset: torch.Tensor | None,
    active: torch.Tensor,
    index: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    *,
    lr: float,
    item_lr: float,
    regulariser: Regulariser | None,
) -> torch.Tensor:
    """One minibatch step of the clients ``active`` (B_a,), in place on ``private``, ``rows`` and ``dense``.

    ``subset`` is ``active`` when only some clients take part, None when all do (no copies are made then).
    The leaves of the item table are the gathered minibatch rows (B_a, S, dim): their gradient is added back
    into ``rows`` at ``index`` (occurrences of one item add up, as the gradient of the table would).
    Models with a closed-form ``logit_vjp`` skip autograd (unless a regulariser is set); the others use it.
    """
    n_rows, dim = rows.shape[1], rows.shape[2]
    flat_index = (active[:, None] * n_rows + index).reshape(-1)
    table = rows.view(-1, dim)
    shape = (*index.shape, dim)
    closed_form = model.logit_vjp is not None and regulariser is None
    loss = torch.zeros(0)
    for group in model.update_groups:
        item_emb = table.index_select(0, flat_index).view(shape)
        if closed_form:
            loss, grads = _closed_form_grads(model, private, item_emb, dense, subset, labels, mask, group)
        else:
            loss, grads = _autograd_grads(model, private, item_emb, dense, subset, labels, mask, group, regulariser)
        for (kind, name), grad in grads:
            step = -_lr(kind, lr, item_lr) * grad
            if kind == "items":
                table.index_add_(0, flat_index, step.reshape(-1, dim))
            elif subset is None:
                (private if kind == "private" else dense)[name].add_(step)
            else:
                (private if kind == "private" else dense)[name].index_put_((subset,), step, accumulate=True)
    return loss.detach()


def _closed_form_grads(model, private, item_emb, dense, subset, labels, mask, group):
    """Loss and gradients of one group from the model's closed-form ``logit_vjp`` (no autograd graph).

    The gradient of the per-client mean BCE with respect to a logit is (sigmoid(logit) - label) / n_samples
    on real samples, 0 on padding; ``logit_vjp`` carries it to the parameters.
    """
    own_private = private if subset is None else {k: v[subset] for k, v in private.items()}
    own_dense = dense if subset is None else {k: v[subset] for k, v in dense.items()}
    logits = model.logits(own_private, item_emb, own_dense)
    loss, weight, count = _mean_bce(logits, labels, mask)
    d_logits = (torch.sigmoid(logits) - labels) * weight / count[:, None]
    d_private, d_items, d_dense = model.logit_vjp(own_private, item_emb, own_dense, d_logits)
    grads = []
    if "private" in group:
        grads += [(("private", k), d_private[k]) for k in private]
    if "items" in group:
        grads.append((("items", "rows"), d_items))
    if "dense" in group:
        grads += [(("dense", k), d_dense[k]) for k in dense if k in d_dense]
    return loss, grads


def _autograd_grads(model, private, item_emb, dense, subset, labels, mask, group, regulariser):
    """Loss and gradients of one group by autograd on fresh leaves (any model, any regulariser)."""

    def leaf(tensor: torch.Tensor, trained: bool) -> torch.Tensor:  # noqa: FBT001
        return (tensor.detach() if subset is None else tensor[subset]).requires_grad_(trained)

    leaves = {
        "private": {k: leaf(v, "private" in group) for k, v in private.items()},
        "items": {"rows": item_emb.requires_grad_("items" in group)},
        "dense": {k: leaf(v, "dense" in group) for k, v in dense.items()},
    }
    loss = minibatch_loss(model, leaves["private"], leaves["items"]["rows"], leaves["dense"], labels, mask,
                          regulariser=regulariser)
    trained = [(kind, name) for kind in group for name in leaves[kind]]
    grads = torch.autograd.grad(loss.sum(), [leaves[kind][name] for kind, name in trained], allow_unused=True)
    return loss, [(key, grad) for key, grad in zip(trained, grads, strict=True) if grad is not None]


def client_update_loop(
    model: FedModel,
    private: dict[str, torch.Tensor],
    rows: torch.Tensor,
    dense: dict[str, torch.Tensor],
    samples: torch.Tensor,
    labels: torch.Tensor,
    sample_mask: torch.Tensor,
    *,
    batch_size: int,
    lr: float,
    item_lr: float,
    regulariser: Regulariser | None = None,
) -> tuple[dict[str, torch.Tensor], torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """The local training of ONE client (B = 1 tensors), written the plain way with ``torch.optim.SGD``.

    Same arguments and return values as :func:`client_update`, with B = 1. One optimizer per update group,
    stepped in order on every minibatch (PFedRec: the head, then the item embedding on a fresh forward pass).
    """
    params = {
        "private": {k: torch.nn.Parameter(v.clone()) for k, v in private.items()},
        "items": {"rows": torch.nn.Parameter(rows.clone())},
        "dense": {k: torch.nn.Parameter(v.clone()) for k, v in dense.items()},
    }
    optimizers = []
    for group in model.update_groups:
        param_groups = [
            {"params": list(params[kind].values()), "lr": _lr(kind, lr, item_lr)}
            for kind in group if params[kind]
        ]
        optimizers.append(torch.optim.SGD(param_groups, lr=lr))
    n_samples = int(sample_mask[0, 0].sum())
    losses = []
    for epoch in range(samples.shape[1]):
        losses = []
        for start in range(0, n_samples, batch_size):
            index = samples[:, epoch, start : start + batch_size]
            target = labels[:, epoch, start : start + batch_size]
            mask = torch.ones_like(index, dtype=torch.bool)
            for optimizer in optimizers:
                optimizer.zero_grad()
                item_emb = item_embeddings(params["items"]["rows"], index)
                loss = minibatch_loss(
                    model, params["private"], item_emb, params["dense"], target, mask, regulariser=regulariser
                )
                loss.sum().backward()
                optimizer.step()
            losses.append(float(loss.detach().sum()))
    mean_loss = torch.tensor([sum(losses) / max(1, len(losses))])
    return (
        {k: v.detach() for k, v in params["private"].items()},
        params["items"]["rows"].detach(),
        {k: v.detach() for k, v in params["dense"].items()},
        mean_loss,
    )
