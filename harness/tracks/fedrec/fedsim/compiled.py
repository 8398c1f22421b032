"""The client step of every participant of a round in one compiled, parallel loop, for FedMF and PFedRec.

:func:`harness.tracks.fedrec.fedsim.client.client_update` trains padded batches of clients with batched tensor
operations, for any model. For the two models whose gradient has a closed form and whose clients touch only their own
rows, :class:`~harness.tracks.fedrec.fedsim.models.MatrixFactorization` and
:class:`~harness.tracks.fedrec.fedsim.models.PersonalHead`, this module runs the same local training as machine code
compiled with numba: one iteration per participant, spread over the threads, on the flat arrays of
:class:`~harness.tracks.fedrec.fedsim.sampling.RoundLayout` (no padding, no per-batch copies of the item rows). It is
the step :func:`~harness.tracks.fedrec.fedsim.simulation.simulate` takes for these models when numba is installed,
without a local-global view and with the default client step.

Same training as :func:`~harness.tracks.fedrec.fedsim.client.client_update`: per epoch, the participant's samples in
ascending key order, minibatches of ``batch_size``, the mean BCE of a minibatch, plain SGD (item rows with ``item_lr``,
private parameters with ``lr``). FedMF takes one joint step per minibatch, all gradients at the same parameters (a row
drawn twice takes both steps); PFedRec steps its head, then its item rows on a fresh forward pass with the new head. The
reported loss is that of the last step of each minibatch, averaged over the last epoch's minibatches. Each participant's
work depends on its own data only, so the result does not depend on the number of threads; it equals the batched step up
to float rounding (``tests/tracks/fedrec/test_fedsim_compiled.py``).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

import numpy as np
import torch

from harness.tracks.fedrec.fedsim.models import FedModel, MatrixFactorization, PersonalHead
from harness.tracks.fedrec.fedsim.sampling import RoundSamples

__all__ = ["OwnRows", "is_available", "round_update", "supports", "warm_up"]

#: A round's personal rows: ``(row_indptr (P + 1,), row_items (R,), rows (R, dim))``, participant p's rows
#: ``row_indptr[p]:row_indptr[p + 1]``, items ascending within a participant.
OwnRows = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@lru_cache(maxsize=1)
def is_available() -> bool:
    """True when numba is installed (the batched tensor step runs without it)."""
    return importlib.util.find_spec("numba") is not None


def supports(model: FedModel) -> bool:
    """True for the models this step implements: exactly FedMF and PFedRec (a subclass may change the logits)."""
    return type(model) in (MatrixFactorization, PersonalHead)


#: Participants are cut into at most this many contiguous blocks, the units of parallel work. Each block reuses
#: one item-to-row map and sums its participants' uploads into its own (n_items, dim) table; the tables are added
#: in block order. The blocks depend on the data only, so the result does not depend on the number of threads.
N_BLOCKS = 16

#: Most bytes of the blocks' upload tables together (fewer blocks for a large item table).
BLOCK_SUM_BYTES = 64 << 20


def _check_samples(samples: RoundSamples, *, n_users: int, n_items: int) -> None:
    """Refuse samples the kernel would read out of bounds with (it does not check its indices)."""
    n_samples, indptr = len(samples.items), samples.indptr
    problems = []
    if len(indptr) != len(samples.users) + 1 or (len(indptr) and (int(indptr[0]) != 0 or int(indptr[-1]) != n_samples)):
        problems.append("indptr does not span the samples")
    elif len(indptr) > 1 and bool((indptr.diff() < 0).any()):
        problems.append("indptr decreases")
    if n_samples and (int(samples.items.min()) < 0 or int(samples.items.max()) >= n_items):
        problems.append(f"an item lies outside 0..{n_items - 1}")
    if len(samples.users) and (int(samples.users.min()) < 0 or int(samples.users.max()) >= n_users):
        problems.append(f"a participant lies outside 0..{n_users - 1}")
    if samples.labels.shape != (n_samples,) or samples.keys.ndim != 2 or samples.keys.shape[1] != n_samples:
        problems.append("labels or keys do not match the samples")
    if problems:
        msg = f"round samples the compiled client step cannot take: {'; '.join(problems)}; draw them with sample_round."
        raise ValueError(msg)


def round_update(
    model: FedModel,
    private: dict[str, torch.Tensor],
    items: torch.Tensor,
    samples: RoundSamples,
    *,
    batch_size: int,
    lr: float,
    item_lr: float,
    keep_personal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, int, OwnRows | None]:
    """Train every participant of the round locally; update their private parameters in place.

    Args:
        model: A model :func:`supports`.
        private: Every user's private parameters (n_users, ...), float32; the participants' rows are overwritten.
        items: float32 tensor of shape (n_items, dim), the downloaded global item table (not changed).
        samples: The round's samples.
        batch_size: Samples per local minibatch.
        lr: Learning rate of the private parameters.
        item_lr: Learning rate of the item rows.
        keep_personal: Also return every participant's trained rows (its personal rows, PFedRec).

    Returns:
        ``(upload, losses, n_rows, own)``: the sum over participants of each trained row's change times the
        participant's FedAvg weight (``samples.n_positives``), float32 of shape (n_items, dim); each participant's
        mean minibatch loss over its last epoch, float32 of shape (P,); the number of rows uploaded; under
        ``keep_personal`` the trained rows as :data:`OwnRows` ``(row_indptr (P + 1,), row_items (R,), rows (R,
        dim))``, items ascending within a participant, else None.

    Raises:
        RuntimeError: numba is not installed.
        TypeError: The model is not one this step implements, or a parameter is not contiguous float32.
        ValueError: The sample keys are not ``torch.rand`` draws.
    """
    if not is_available():
        msg = "the compiled client step needs numba; install it (pip install numba) or use the batched step."
        raise RuntimeError(msg)
    if not supports(model):
        msg = f"the compiled client step implements FedMF and PFedRec only, not {type(model).__name__}."
        raise TypeError(msg)
    two_step = isinstance(model, PersonalHead)
    weight = private["weight" if two_step else "user"]
    bias = private["bias"] if two_step else torch.zeros(1)
    for name, tensor in (("private", weight), ("bias", bias), ("items", items)):
        if tensor.dtype != torch.float32 or not tensor.is_contiguous():
            msg = f"the compiled client step needs contiguous float32 {name} parameters, got {tensor.dtype}."
            raise TypeError(msg)
    _check_samples(samples, n_users=len(weight), n_items=items.shape[0])
    n_participants, (n_items, dim) = len(samples.users), items.shape
    block_bytes = n_items * dim * 4
    n_blocks = max(1, min(N_BLOCKS, n_participants, BLOCK_SUM_BYTES // max(1, block_bytes)))
    block_sums = torch.empty(n_blocks, n_items, dim, dtype=torch.float32)
    losses = torch.empty(n_participants, dtype=torch.float32)
    n_rows_of = np.zeros(n_participants, dtype=np.int64)
    bad_keys = np.zeros(n_participants, dtype=np.bool_)
    n_slots = len(samples.items) if keep_personal else 1
    own_items = torch.zeros(n_slots, dtype=torch.int64)
    own_rows = torch.zeros(n_slots, dim, dtype=torch.float32)
    from harness.tracks.fedrec.fedsim import _kernels  # noqa: PLC0415 - numba loads on first use

    _kernels.train_participants(
        samples.indptr.numpy(), samples.keys.numpy(), samples.items.numpy(), samples.labels.numpy(),
        samples.users.numpy(), weight.numpy(), bias.numpy(), items.numpy(),
        samples.n_positives.to(torch.float32).numpy(), own_items.numpy(), own_rows.numpy(), block_sums.numpy(),
        losses.numpy(), n_rows_of, bad_keys, int(batch_size), float(lr), float(item_lr), two_step, two_step,
        bool(keep_personal),
        n_threads=torch.get_num_threads(),
    )
    if bad_keys.any():
        msg = (f"the sample keys of {int(bad_keys.sum())} participant(s) are not torch.rand draws (multiples of "
               f"2**-24 in [0, 1)); draw them with harness.tracks.fedrec.fedsim.sample_round or use the batched step.")
        raise ValueError(msg)
    own = _compact(samples, own_items, own_rows, torch.from_numpy(n_rows_of), n_items) if keep_personal else None
    return block_sums.sum(0), losses, int(n_rows_of.sum()), own


def _compact(
    samples: RoundSamples, own_items: torch.Tensor, own_rows: torch.Tensor, n_rows: torch.Tensor, n_items: int
) -> OwnRows:
    """Pack the kernel's personal rows, sorted by item within each participant.

    Participant p's rows are the first ``n_rows[p]`` slots of ``own_rows`` from ``samples.indptr[p]`` on.
    """
    owner = torch.repeat_interleave(torch.arange(len(n_rows)), n_rows)
    row_indptr = torch.zeros(len(n_rows) + 1, dtype=torch.int64)
    row_indptr[1:] = torch.cumsum(n_rows, 0)
    slot = samples.indptr[:-1][owner] + torch.arange(len(owner)) - row_indptr[:-1][owner]
    items = own_items[slot]
    order = torch.argsort(owner * n_items + items)
    return row_indptr, items[order], own_rows[slot[order]]


def warm_up() -> None:
    """Compile the kernels (or load them from numba's on-disk cache) on a tiny round; nothing without numba.

    The first compilation takes about 10 s on a 2-core machine, a cached load well under 1 s. One call covers
    FedMF and PFedRec (the same kernel types).
    """
    if not is_available():
        return
    n_users, n_items, dim = 2, 4, 2
    samples = RoundSamples(
        users=torch.arange(n_users), indptr=torch.tensor([0, 2, 4]), items=torch.tensor([0, 1, 2, 3]),
        labels=torch.tensor([1.0, 0.0, 1.0, 0.0]), keys=torch.rand(1, 4), n_positives=torch.tensor([1, 1]),
    )
    model = MatrixFactorization(dim)
    round_update(model, {"user": torch.zeros(n_users, dim)}, torch.zeros(n_items, dim), samples, batch_size=2,
                 lr=0.1, item_lr=0.1)
