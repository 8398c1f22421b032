"""The client step of every participant of a round in one compiled, parallel loop, for FedMF and PFedRec.

:func:`harness.fedsim.client.client_update` trains padded batches of clients with batched tensor operations, for
any model. For the two models whose gradient has a closed form and whose clients touch only their own rows,
:class:`~harness.fedsim.models.MatrixFactorization` and :class:`~harness.fedsim.models.PersonalHead`, this
module runs the same local training as machine code compiled with numba: one iteration per participant, spread
over the threads, on the flat arrays of :class:`~harness.fedsim.sampling.RoundLayout` (no padding, no per-batch
copies of the item rows). It is the step :func:`~harness.fedsim.simulation.simulate` takes for these models when
numba is installed, without a local-global view and with the default client step.

Same training as :func:`~harness.fedsim.client.client_update`: per epoch, the participant's samples in ascending
key order, minibatches of ``batch_size``, the mean BCE of a minibatch, plain SGD (item rows with ``item_lr``,
private parameters with ``lr``). FedMF takes one joint step per minibatch, all gradients at the same
parameters (a row drawn twice takes both steps); PFedRec steps its head, then its item rows on a fresh forward
pass with the new head. The reported loss is that of the last step of each minibatch, averaged over the last
epoch's minibatches. Each participant's work depends on its own data only, so the result does not depend on the
number of threads; it equals the batched step up to float rounding (``tests/baselines/test_fedrec_compiled.py``).
"""

from __future__ import annotations

import os

import numpy as np
import torch

from harness.fedsim.models import FedModel, MatrixFactorization, PersonalHead
from harness.fedsim.sampling import RoundSamples

try:  # numba is optional: without it the batched tensor step runs
    import numba
except ImportError:  # pragma: no cover - exercised where numba is missing
    numba = None
else:  # numba's own thread pool: its OpenMP layer would share (and reset) torch's OpenMP thread count
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"

__all__ = ["is_available", "round_update", "supports"]


def is_available() -> bool:
    """True when numba can be imported."""
    return numba is not None


def supports(model: FedModel) -> bool:
    """True for the models this step implements: exactly FedMF and PFedRec (a subclass may change the logits)."""
    return type(model) in (MatrixFactorization, PersonalHead)


def _jit(**options):
    """Numba's ``njit`` (compiled on first call, cached on disk); the function itself without numba."""
    return numba.njit(cache=True, nogil=True, **options) if numba is not None else (lambda function: function)


_prange = numba.prange if numba is not None else range

#: Float flags of the kernels: reassociation lets the compiler vectorise the sums over the embedding dimension
#: (a fixed order per build, so the result still does not depend on the number of threads).
_FAST = {"reassoc", "contract"}


#: Participants are cut into at most this many contiguous blocks, the units of parallel work. Each block reuses
#: one item-to-row map and sums its participants' uploads into its own (n_items, dim) table; the tables are added
#: in block order. The blocks depend on the data only, so the result does not depend on the number of threads.
N_BLOCKS = 16

#: Most bytes of the blocks' upload tables together (fewer blocks for a large item table).
BLOCK_SUM_BYTES = 64 << 20

#: Keys are ``torch.rand`` float32 draws, multiples of 2**-24 in [0, 1): exact 24-bit integers once scaled.
_KEY_SCALE = float(1 << 24)


@_jit()
def _block(p_blocks, n_participants, block):  # pragma: no cover - compiled
    """Participants [first, last) of ``block``."""
    return block * n_participants // p_blocks, (block + 1) * n_participants // p_blocks


@_jit()
def _epoch_order(keys, first, n, order, scratch, digits, buckets):  # pragma: no cover - compiled
    """Positions ``first .. first + n`` in ascending key order, ties by position, into ``order[:n]``.

    A stable radix sort on the keys' 24 bits (three passes of 8 bits); returns False when a key is not a
    multiple of 2**-24 in [0, 1) (the order is then left as the positions themselves, so that nothing reads out
    of bounds before the caller refuses the keys).
    """
    for k in range(n):
        order[k] = first + k
    for k in range(n):
        scaled = keys[first + k] * _KEY_SCALE
        if not (scaled >= 0.0 and scaled < _KEY_SCALE) or np.int64(scaled) != scaled:  # NaN fails too
            return False
        digits[k] = np.int64(scaled)
    for shift in (0, 8, 16):
        buckets[:] = 0
        for k in range(n):
            buckets[(digits[order[k] - first] >> shift) & 255] += 1
        total = 0
        for c in range(256):
            total, buckets[c] = total + buckets[c], total
        for k in range(n):
            c = (digits[order[k] - first] >> shift) & 255
            scratch[buckets[c]] = order[k]
            buckets[c] += 1
        order[:n] = scratch[:n]
    return True


@_jit(fastmath=_FAST)
def _forward(order, local, labels, begin, m, w, b, table, rows, grad, grad_w):  # pragma: no cover - compiled
    """One minibatch's forward and backward pass at the current parameters.

    Fills the minibatch's rows, d loss / d logit per sample (``grad``) and the gradient of the user vector
    (``grad_w``); returns the mean BCE and the gradient of the bias.
    """
    dim = table.shape[1]
    grad_w[:] = 0.0
    grad_b = np.float32(0.0)
    loss = 0.0
    scale = np.float32(1.0) / np.float32(m)
    for k in range(m):
        position = order[begin + k]
        row = local[position]
        rows[k] = row
        x = b
        for d in range(dim):
            x += w[d] * table[row, d]
        y = labels[position]
        e = np.exp(-abs(x))  # sigmoid and BCE from one exponential, stable for either sign of x
        inverse = np.float32(1.0) / (np.float32(1.0) + e)
        g = ((inverse if x >= 0 else e * inverse) - y) / np.float32(m)
        grad[k] = g
        grad_b += g
        for d in range(dim):
            grad_w[d] += g * table[row, d]
        loss += max(x, np.float32(0.0)) - x * y + np.log1p(e)
    return loss * scale, grad_b


@_jit(fastmath=_FAST)
def _step_rows(rows, grad, m, w, item_lr, new_rows):  # pragma: no cover - compiled
    """SGD step of the minibatch's item rows (a row drawn twice takes both steps, as ``index_add_``)."""
    for k in range(m):
        step = np.float32(item_lr) * grad[k]
        for d in range(new_rows.shape[1]):
            new_rows[rows[k], d] -= step * w[d]


@_jit()
def _download(items_of, first, n, items, slot, row_items, local, table):  # pragma: no cover - compiled
    """The participant's local table: the global rows of the items it touches, in order of first use; row count."""
    n_rows = 0
    for k in range(n):
        item = items_of[first + k]
        if slot[item] < 0:
            slot[item] = n_rows
            row_items[n_rows] = item
            for d in range(items.shape[1]):
                table[n_rows, d] = items[item, d]
            n_rows += 1
        local[k] = slot[item]
    for k in range(n):
        slot[items_of[first + k]] = -1
    return n_rows


@_jit(fastmath=_FAST)
def _upload(table, row_items, n_rows, items, weight, personal, user, keep_personal, total):  # pragma: no cover
    """Add the weighted change of the local rows to ``total``; keep them as the user's personal rows if asked."""
    for r in range(n_rows):
        item = row_items[r]
        for d in range(items.shape[1]):
            total[item, d] += (table[r, d] - items[item, d]) * weight
    if keep_personal:
        for r in range(n_rows):
            for d in range(items.shape[1]):
                personal[user, row_items[r], d] = table[r, d]


@_jit(parallel=True, fastmath=_FAST)
def _train_participants(  # noqa: PLR0913 - numba takes plain arrays
    indptr, keys, items_of, labels, users, weight, bias, items, fedavg_weight, personal, block_sums, losses,
    n_rows_of, bad_keys, batch_size, lr, item_lr, two_step, has_bias, keep_personal,
):  # pragma: no cover - compiled
    """Every participant's local training (see the module docstring); blocks of participants run in parallel.

    Block b adds its participants' uploads, in order, to ``block_sums[b]``.
    """
    n_blocks, n_participants, n_items, dim = block_sums.shape[0], len(users), items.shape[0], items.shape[1]
    for block in _prange(n_blocks):
        total = block_sums[block]
        total[:] = 0.0
        slot = np.full(n_items, -1, dtype=np.int64)
        grad, rows = np.zeros(batch_size, dtype=np.float32), np.zeros(batch_size, dtype=np.int64)
        grad_w, buckets = np.zeros(dim, dtype=np.float32), np.zeros(256, dtype=np.int64)
        block_first, block_last = _block(n_blocks, n_participants, block)
        for p in range(block_first, block_last):
            user, first, n = users[p], indptr[p], indptr[p + 1] - indptr[p]
            local, row_items = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
            table = np.empty((n, dim), dtype=np.float32)
            n_rows = _download(items_of, first, n, items, slot, row_items, local, table)
            w = weight[user].copy()
            b = bias[user] if has_bias else np.float32(0.0)
            order, scratch, digits = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
            loss_sum = 0.0
            for epoch in range(keys.shape[0]):
                if not _epoch_order(keys[epoch], first, n, order, scratch, digits, buckets):
                    bad_keys[p] = True
                order -= first
                loss_sum = 0.0
                for start in range(0, n, batch_size):
                    m = min(n, start + batch_size) - start
                    loss, grad_b = _forward(order, local, labels[first:], start, m, w, b, table, rows, grad, grad_w)
                    if two_step:  # PFedRec: the head, then the rows on a fresh forward pass with the new head
                        for d in range(dim):
                            w[d] -= np.float32(lr) * grad_w[d]
                        b = b - np.float32(lr) * grad_b if has_bias else b
                        loss, _ = _forward(order, local, labels[first:], start, m, w, b, table, rows, grad, grad_w)
                        _step_rows(rows, grad, m, w, item_lr, table)
                    else:  # FedMF: one joint step, every gradient at the minibatch's parameters
                        _step_rows(rows, grad, m, w, item_lr, table)
                        for d in range(dim):
                            w[d] -= np.float32(lr) * grad_w[d]
                    loss_sum += loss
            weight[user] = w
            if has_bias:
                bias[user] = b
            losses[p] = loss_sum / max(1, (n + batch_size - 1) // batch_size)
            n_rows_of[p] = n_rows
            _upload(table, row_items, n_rows, items, fedavg_weight[p], personal, user, keep_personal, total)


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
    personal: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Train every participant of the round locally; update their private parameters in place.

    Args:
        model: A model :func:`supports`.
        private: Every user's private parameters (n_users, ...), float32; the participants' rows are overwritten.
        items: float32 tensor of shape (n_items, dim), the downloaded global item table (not changed).
        samples: The round's samples.
        batch_size: Samples per local minibatch.
        lr: Learning rate of the private parameters.
        item_lr: Learning rate of the item rows.
        personal: Optional float32 tensor of shape (n_users, n_items, dim): each participant's trained rows are
            written into its own table there (the rest of its table is left as it is).

    Returns:
        ``(upload, losses, n_rows)``: the sum over participants of each trained row's change times the
        participant's FedAvg weight (``samples.n_positives``), float32 of shape (n_items, dim); each participant's
        mean minibatch loss over its last epoch, float32 of shape (P,); the number of rows uploaded.

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
    keep = personal is not None
    personal = personal if keep else torch.zeros(1, 1, items.shape[1])
    for name, tensor in (("private", weight), ("bias", bias), ("items", items), ("personal", personal)):
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
    torch_threads = torch.get_num_threads()
    previous = numba.get_num_threads()
    numba.set_num_threads(max(1, min(torch_threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        _train_participants(
            samples.indptr.numpy(), samples.keys.numpy(), samples.items.numpy(), samples.labels.numpy(),
            samples.users.numpy(), weight.numpy(), bias.numpy(), items.numpy(),
            samples.n_positives.to(torch.float32).numpy(), personal.numpy(), block_sums.numpy(), losses.numpy(),
            n_rows_of, bad_keys, int(batch_size), float(lr), float(item_lr), two_step, two_step, keep,
        )
    finally:
        numba.set_num_threads(previous)
        torch.set_num_threads(torch_threads)
    if bad_keys.any():
        msg = (f"the sample keys of {int(bad_keys.sum())} participant(s) are not torch.rand draws (multiples of "
               f"2**-24 in [0, 1)); draw them with harness.fedsim.sample_round or use the batched step.")
        raise ValueError(msg)
    return block_sums.sum(0), losses, int(n_rows_of.sum())
