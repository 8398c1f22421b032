"""The numba kernels of :mod:`~harness.tracks.fedrec.fedsim.compiled` (imported on first use: numba costs memory).

Every participant's local training runs in :func:`_train_participants`, one parallel iteration per block of
participants; see :mod:`harness.tracks.fedrec.fedsim.compiled` for what it computes.
"""

from __future__ import annotations

import os

import numba
import numpy as np
import torch

from harness.tracks.fedrec.fedsim.sampling import KEY_SCALE

if "NUMBA_THREADING_LAYER" not in os.environ:  # numba's own pool: its OpenMP layer would reset torch's threads
    numba.config.THREADING_LAYER = "workqueue"


def _jit(**options):
    """Numba's ``njit``: compiled on first call, cached on disk beside this file."""
    return numba.njit(cache=True, nogil=True, **options)


_prange = numba.prange

#: Float flags of the kernels: reassociation lets the compiler vectorise the sums over the embedding dimension
#: (a fixed order per build, so the result still does not depend on the number of threads).
_FAST = {"reassoc", "contract"}

#: Keys are ``torch.rand`` float32 draws, multiples of 2**-24 in [0, 1): exact 24-bit integers once scaled.
_KEY_SCALE = float(KEY_SCALE)


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
def _upload(  # pragma: no cover - compiled
    table, row_items, n_rows, items, weight, own_items, own_rows, first, keep_personal, total,
):
    """Add the weighted change of the local rows to ``total``; keep them as the participant's personal rows if asked.

    The personal rows and their items go to ``own_rows[first:first + n_rows]`` and ``own_items[first:...]``.
    """
    for r in range(n_rows):
        item = row_items[r]
        for d in range(items.shape[1]):
            total[item, d] += (table[r, d] - items[item, d]) * weight
    if keep_personal:
        for r in range(n_rows):
            own_items[first + r] = row_items[r]
            for d in range(items.shape[1]):
                own_rows[first + r, d] = table[r, d]


@_jit(parallel=True, fastmath=_FAST)
def _train_participants(  # noqa: PLR0913 - numba takes plain arrays
    indptr, keys, items_of, labels, users, weight, bias, items, fedavg_weight, own_items, own_rows, block_sums,
    losses, n_rows_of, bad_keys, batch_size, lr, item_lr, two_step, has_bias, keep_personal,
):  # pragma: no cover - compiled
    """Every participant's local training (see the module docstring); blocks of participants run in parallel.

    Block b adds its participants' uploads, in order, to ``block_sums[b]``. Participant p's trained rows go to
    ``own_rows[indptr[p]:indptr[p] + n_rows_of[p]]`` (items in ``own_items``, in order of first use) when
    ``keep_personal``.
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
            _upload(table, row_items, n_rows, items, fedavg_weight[p], own_items, own_rows, first, keep_personal, total)


def train_participants(*arrays, n_threads: int) -> None:
    """Run :func:`_train_participants` on ``n_threads`` threads (torch's thread count is left as it was)."""
    torch_threads, previous = torch.get_num_threads(), numba.get_num_threads()
    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        _train_participants(*arrays)
    finally:
        numba.set_num_threads(previous)
        torch.set_num_threads(torch_threads)
