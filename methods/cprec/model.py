"""The causal LM of the recommenders: built from a config or loaded from a local checkpoint; its losses and logits.

The losses are those of the two training stages (language modelling on packed token rows; next-item prediction
over one domain's item tokens); the logits are those of item-token scoring.

No harness imports: tensors and arrays in, tensors and arrays out. Item-token logits are read from the backbone's
last hidden states times the rows of the output embedding that belong to one domain's items, so neither training
nor scoring computes logits over the whole vocabulary where only one domain's items matter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F  # noqa: N812 - the usual alias

__all__ = ["build_lm", "item_logits", "item_loss", "last_hidden", "lm_loss", "load_lm", "pad_rows"]


def build_lm(arch: str, *, vocab_size: int, n_layers: int, dim: int, n_heads: int, context: int,
             pad_id: int = 0) -> torch.nn.Module:
    """A randomly initialised causal LM of Hugging Face transformers (no dropout, tied input/output embeddings).

    Args:
        arch: ``"llama"`` (LlamaConfig: RMSNorm, rotary positions, SwiGLU MLP of width ``4 * dim``) or ``"gpt2"``
            (GPT2Config: LayerNorm, learned positions, GELU MLP of width ``4 * dim``).
        vocab_size: Tokens of the vocabulary.
        n_layers: Decoder blocks.
        dim: Hidden width.
        n_heads: Attention heads (``dim`` must be a multiple).
        context: Longest sequence (positions).
        pad_id: Id of the padding token.

    Raises:
        ValueError: ``arch`` is unknown or ``dim`` is not a multiple of ``n_heads``.
    """
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    if dim % n_heads:
        msg = f"lm_dim must be a multiple of lm_heads; got lm_dim={dim}, lm_heads={n_heads}."
        raise ValueError(msg)
    if arch == "llama":
        config = LlamaConfig(vocab_size=vocab_size, hidden_size=dim, intermediate_size=4 * dim,
                             num_hidden_layers=n_layers, num_attention_heads=n_heads, num_key_value_heads=n_heads,
                             max_position_embeddings=context, tie_word_embeddings=True, pad_token_id=pad_id,
                             bos_token_id=None, eos_token_id=None, attention_dropout=0.0)
        return LlamaForCausalLM(config)
    if arch == "gpt2":
        config = GPT2Config(vocab_size=vocab_size, n_embd=dim, n_layer=n_layers, n_head=n_heads, n_positions=context,
                            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True,
                            pad_token_id=pad_id, bos_token_id=None, eos_token_id=None)
        return GPT2LMHeadModel(config)
    msg = f"lm_arch must be 'llama' or 'gpt2'; got {arch!r}."
    raise ValueError(msg)


def load_lm(path: str | Path) -> tuple[torch.nn.Module, Any]:
    """A causal LM and its tokenizer from a local checkpoint folder (``from_pretrained``; nothing is downloaded).

    Raises:
        FileNotFoundError: ``path`` is not a folder holding a ``config.json``; the message names the path.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(path).expanduser()
    if not (folder / "config.json").is_file():
        msg = (f"the LM checkpoint {folder} is not a folder with a config.json; give --set weights=PATH a local "
               "Hugging Face checkpoint folder (save_pretrained of the model and its tokenizer).")
        raise FileNotFoundError(msg)
    model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return model, tokenizer


def pad_rows(rows: Sequence[np.ndarray], pad: int, fill: int | None = None) -> torch.Tensor:
    """Right-pad integer rows to the longest: int64 tensor of shape (n_rows, max_len), padded with ``fill or pad``."""
    width = max(len(r) for r in rows)
    out = np.full((len(rows), width), pad if fill is None else fill, dtype=np.int64)
    for k, row in enumerate(rows):
        out[k, :len(row)] = row
    return torch.from_numpy(out)


def lm_loss(model: torch.nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy over the whole vocabulary.

    Args:
        model: A causal LM.
        ids: int64 tensor of shape (batch, length): token ids (right padding).
        labels: int64 tensor of the same shape: the ids, with -100 at padding (never a target).

    Returns:
        A scalar float tensor (the labels are shifted inside: token ``t + 1`` is predicted at ``t``).
    """
    return model(input_ids=ids, labels=labels).loss


def last_hidden(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The backbone's last hidden states (final norm applied): float tensor of shape (batch, length, dim).

    Right padding needs no attention mask: the attention is causal, so padding never reaches a real position.
    """
    return model.base_model(input_ids=ids).last_hidden_state


def item_logits(model: torch.nn.Module, hidden: torch.Tensor, item_ids: torch.Tensor) -> torch.Tensor:
    """Logits of one domain's item tokens: float tensor of shape (n_rows, n_items) for hidden (n_rows, dim)."""
    head = model.get_output_embeddings()
    logits = hidden @ head.weight[item_ids].T
    if getattr(head, "bias", None) is not None:
        logits = logits + head.bias[item_ids]
    return logits


def item_loss(model: torch.nn.Module, ids: torch.Tensor, targets: torch.Tensor, item_ids: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-item prediction over one domain's item tokens.

    Args:
        model: A causal LM.
        ids: int64 tensor of shape (batch, length): prompts (right padding).
        targets: int64 tensor of the same shape: at a position where the next token is an item of the domain,
            that item's local id; -1 elsewhere (padding included).
        item_ids: int64 tensor of shape (n_items,): the token id of each item of the domain.

    Returns:
        A scalar float tensor.
    """
    hidden = last_hidden(model, ids)
    where = targets >= 0
    return F.cross_entropy(item_logits(model, hidden[where], item_ids), targets[where])
