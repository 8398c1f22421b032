"""Shared cases of the federated-simulator tests: random client histories and one torch thread."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.tracks.fedrec.fedsim import FedData


def random_histories(n_users: int, n_items: int, *, max_length: int, seed: int) -> FedData:
    """Histories of 3..``max_length`` distinct items per user, a validation item outside each and 9 negatives."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, max_length + 1, size=n_users)
    histories = [rng.choice(n_items, size=n + 1, replace=False) for n in lengths]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    items = np.concatenate([h[:-1] for h in histories])
    val = np.stack([np.concatenate([[h[-1]], rng.choice(np.setdiff1d(np.arange(n_items), h), 9, replace=False)])
                    for h in histories])
    return FedData.from_arrays(n_items, indptr, items, val)


@pytest.fixture(autouse=True)
def one_thread():
    """Run the test on one torch thread (as the fedrec methods run), then restore the count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
