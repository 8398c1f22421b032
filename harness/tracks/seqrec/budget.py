"""The budget of the ``seqrec`` track and its presets (data, not code).

One budget fixes, for every method of a table: the protocol's filter (k-core), the sequence length, the model
width shared by the sequential recommenders, their training steps, and the language model's size and token
budget (continual pre-training tokens, adaptation steps) for the LM-based recommenders.

- ``smoke``: CI, seconds per job: the ``tiny`` synthetic set (3 small domains), a few dozen steps, a 1-layer LM.
- ``default``: the embedded synthetic multi-domain set (3 Amazon-layout domains) on 2 CPU cores, 3 seeds: histories
  of 20 items, 300 steps of 128 windows for the ID-based models; a 2-layer LLaMA-style LM of width 128 pre-trained
  on 300,000 tokens and adapted for 150 steps of 16 sequences of at most 160 tokens; sized so that ``nox -s
  bench-seqrec`` ends within 15 minutes (the README gives the measured time).
- ``paper``: the published protocols on one GPU: 5-core Amazon domains, sequence length 50, SASRec/BERT4Rec
  settings of their papers, an LM from a local checkpoint (``--set weights=PATH``, e.g. a 0.5B model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.api import Budget
from harness.options import option

__all__ = ["BUDGETS", "LM_ARCHS", "SeqRecBudget"]

#: Architectures of the language model (Hugging Face transformers configurations).
LM_ARCHS = ("llama", "gpt2")


@dataclass(frozen=True)
class SeqRecBudget(Budget):
    """Budget of the seqrec track: one protocol, one model size and one training budget for every method."""

    min_interactions: int = option(5, "k of the k-core filter, per domain: users and items with fewer events are "
                                   "dropped, repeatedly, until none is left (5-core).", ge=2)
    max_len: int = option(50, "Items of a user's history a model reads (the most recent).", ge=2)
    embedding_dim: int = option(64, "Width of the item embeddings and hidden states of the sequential "
                                "recommenders (GRU4Rec, SASRec, BERT4Rec).", ge=4)
    steps: int = option(600, "Optimiser steps of a sequential recommender (and of an LM's adaptation to the target "
                        "domain, see sft_steps).", ge=0)
    batch_size: int = option(128, "Sequences per optimiser step.", ge=1)
    learning_rate: float = option(1e-3, "Peak learning rate of the sequential recommenders (Adam).", gt=0)
    dropout: float = option(0.2, "Dropout of the sequential recommenders.", ge=0, le=0.9)
    lm_arch: str = option("llama", "Architecture of the language model (a small configuration trained from scratch "
                          "unless --set weights=PATH names a local checkpoint).", choices=LM_ARCHS)
    lm_layers: int = option(2, "Decoder blocks of the from-scratch language model.", ge=1)
    lm_dim: int = option(128, "Hidden width of the from-scratch language model.", ge=16)
    lm_heads: int = option(4, "Attention heads of the from-scratch language model.", ge=1)
    lm_context: int = option(256, "Tokens per training sequence of the language model.", ge=16)
    lm_batch_size: int = option(16, "Token sequences per LM optimiser step.", ge=1)
    lm_learning_rate: float = option(2e-3, "Peak learning rate of the LM (continual pre-training).", gt=0)
    cpt_tokens: int = option(1_000_000, "Tokens seen in continual pre-training (every schedule gets the same).", ge=0)
    sft_steps: int = option(300, "Optimiser steps of an LM's adaptation to the target domain.", ge=0)
    sft_learning_rate: float = option(1e-3, "Peak learning rate of the LM's adaptation.", gt=0)


BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "time_limit_s": 240.0, "memory_limit_mb": 4096, "seeds": (0,), "max_len": 20, "embedding_dim": 32,
        "steps": 40, "batch_size": 64, "lm_layers": 1, "lm_dim": 64, "lm_heads": 2, "lm_context": 128,
        "cpt_tokens": 40_000, "sft_steps": 30,
    },
    "default": {
        "time_limit_s": 600.0, "memory_limit_mb": 4096, "seeds": (0, 1, 2), "max_len": 20, "steps": 300,
        "lm_context": 160, "cpt_tokens": 300_000, "sft_steps": 150,
    },
    "paper": {
        "time_limit_s": 43200.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda", "max_len": 50,
        "embedding_dim": 64, "steps": 20000, "batch_size": 256, "lm_context": 1024, "lm_batch_size": 8,
        "lm_learning_rate": 1e-4, "cpt_tokens": 200_000_000, "sft_steps": 5000, "sft_learning_rate": 1e-4,
    },
}
