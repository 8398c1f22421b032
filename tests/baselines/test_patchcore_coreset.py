"""The buffered greedy coreset selects exactly anomalib's centres, without a temporary per centre."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
from anomalib.models.components import KCenterGreedy

from baselines.anomalib_models.patchcore.coreset import BufferedKCenterGreedy, subsample_memory_bank

SEED = 7


def _select(sampler_cls, embedding: torch.Tensor, ratio: float) -> list[int]:
    # anomalib's sampler draws its first centre from torch's global generator and its sparse random projection
    # from numpy's: seed both identically for the two samplers.
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    with contextlib.redirect_stderr(io.StringIO()):
        return sampler_cls(embedding=embedding, sampling_ratio=ratio).select_coreset_idxs()


@pytest.mark.parametrize(
    ("n_rows", "n_dims", "ratio", "n_levels"),
    [
        pytest.param(400, 24, 0.1, 0, id="continuous"),
        pytest.param(300, 64, 0.2, 3, id="ties-few-levels"),
        pytest.param(257, 8, 0.5, 2, id="many-ties-low-dim"),
    ],
)
def test_same_centres_as_anomalib(n_rows, n_dims, ratio, n_levels):
    generator = torch.Generator().manual_seed(SEED)
    embedding = torch.randn(n_rows, n_dims, generator=generator)
    if n_levels:  # values from a few levels, so distances tie
        embedding = torch.round(embedding * n_levels) / n_levels
        embedding[::5] = embedding[1::5][: len(embedding[::5])]  # duplicated rows
    expected = _select(KCenterGreedy, embedding, ratio)
    got = _select(BufferedKCenterGreedy, embedding, ratio)
    assert got == expected


def test_subsample_memory_bank_keeps_the_selected_rows():
    class _Store(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding_store = [torch.randn(50, 6, generator=torch.Generator().manual_seed(1)) for _ in range(2)]
            self.memory_bank = torch.empty(0)

    model = _Store()
    bank = torch.vstack(model.embedding_store)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    with contextlib.redirect_stderr(io.StringIO()):
        subsample_memory_bank(model, 0.1)
    assert model.memory_bank.shape == (10, 6)
    assert model.embedding_store == []
    expected = bank[_select(KCenterGreedy, bank, 0.1)]
    assert torch.equal(model.memory_bank, expected)


def test_empty_store_is_an_error_that_says_what_to_do():
    class _Empty(torch.nn.Module):
        embedding_store: list = []

    with pytest.raises(ValueError, match="embedding store is empty: fit it on at least one training image"):
        subsample_memory_bank(_Empty(), 0.1)
