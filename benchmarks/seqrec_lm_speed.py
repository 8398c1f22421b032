"""Seconds per training step of the seqrec track's from-scratch LM at several widths (one torch thread).

Each configuration: a LLaMA-style causal LM (transformers) of 2 layers (and one of 1 layer at width 128), 16 rows
of 110 tokens, the adaptation's loss (hidden states of the base model, logits of 700 item tokens at 600
positions), AdamW; 3 warm-up steps, then the mean of 15 steps. Prints a table.

Run: python benchmarks/seqrec_lm_speed.py
"""

from __future__ import annotations

import time

import torch
from tabulate import tabulate
from transformers import LlamaConfig, LlamaForCausalLM

CONFIGS = ((128, 2, 512), (96, 2, 384), (64, 2, 256), (128, 1, 512))
ROWS, LENGTH, VOCAB, ITEMS, TARGETS = 16, 110, 4200, 700, 600


def step_seconds(width: int, layers: int, mlp: int, *, n_steps: int = 15) -> float:
    heads = 4 if width % 4 == 0 else 2
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=width, intermediate_size=mlp, num_hidden_layers=layers,
                         num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=256)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    optimiser = torch.optim.AdamW(model.parameters(), 1e-3)
    ids = torch.randint(0, VOCAB, (ROWS, LENGTH))
    targets = torch.randint(0, ITEMS, (TARGETS,))

    def step() -> None:
        hidden = model.base_model(input_ids=ids).last_hidden_state.reshape(-1, width)[:TARGETS]
        logits = hidden @ model.get_output_embeddings().weight[:ITEMS].T
        torch.nn.functional.cross_entropy(logits, targets).backward()
        optimiser.step()
        optimiser.zero_grad()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return (time.perf_counter() - start) / n_steps


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for width, layers, mlp in CONFIGS:
        seconds = step_seconds(width, layers, mlp)
        rows.append((width, layers, mlp, f"{seconds * 1000:.1f}", f"{ROWS * LENGTH / seconds:,.0f}"))
    print(tabulate(rows, headers=("width", "layers", "mlp", "ms per step", "tokens/s"), tablefmt="github"))


if __name__ == "__main__":
    main()
