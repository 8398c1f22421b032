"""The CUDA path of every seqrec method (``pytest -m gpu``; skipped without a CUDA device)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.api import Context
from harness.registry import METHODS, methods
from harness.tracks.seqrec.budget import SeqRecBudget
from harness.tracks.seqrec.contract import toy_train

SEQREC = sorted(name for name, entry in METHODS.items() if entry.track == "seqrec")


@pytest.mark.gpu
@pytest.mark.parametrize("name", SEQREC)
def test_every_seqrec_method_fits_and_scores_on_cuda(name):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    pytest.importorskip("transformers")
    train, inputs = toy_train(60, (40, 30))
    budget = SeqRecBudget(steps=20, max_len=10, embedding_dim=16, batch_size=16, lm_layers=1, lm_dim=32,
                          lm_heads=2, lm_context=64, cpt_tokens=4000, sft_steps=10, device="cuda")
    cls = methods.get(name)
    method = cls(cls.make_config(METHODS[name].config))
    method.fit(train, budget, Context(seed=0, device="cuda"))
    scores = method.predict(inputs)["full_scores"]
    assert scores.shape == (len(inputs), inputs.n_items) and np.isfinite(scores).all()
