"""Tokenisers of the LM recommenders: a word-level vocabulary for the from-scratch LM, an adapter for a checkpoint's.

A prompt is rendered as a list of *pieces* (:mod:`methods.cprec.prompts`): template words, domain tokens
(``"<dom:Books>"``), item tokens (``"<Books_17>"``, one per item per domain) and title words. A tokeniser maps the
pieces to token ids and says which id each item of a domain has, which is all that training and item-token scoring
need.

- :class:`WordVocabulary` (random init): one id per special token, template word, domain token and title word (the
  ``max_words`` most frequent title words over every domain, ties by the word; rarer words become ``<unk>``), then
  one id per item of every domain. Built from the data alone, so every job of a dataset builds the same one.
- :class:`CheckpointTokenizer` (``budget.weights`` a local checkpoint): the checkpoint's own tokenizer, with the
  domain and item tokens added as new tokens (the model's embeddings are resized to match).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "SPECIAL_TOKENS",
    "CheckpointTokenizer",
    "WordVocabulary",
    "domain_token",
    "item_token",
    "title_words",
]

#: Special tokens of the word vocabulary, in id order (padding is id 0).
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
_WORD = re.compile(r"[a-z0-9]+")


def domain_token(domain: str) -> str:
    """The token naming a domain, e.g. ``"<dom:Books>"``."""
    return f"<dom:{domain}>"


def item_token(domain: str, item: int) -> str:
    """The token of local item ``item`` of ``domain``, e.g. ``"<Books_17>"``."""
    return f"<{domain}_{int(item)}>"


def title_words(title: str, max_words: int) -> list[str]:
    """The first ``max_words`` words of a title: lower case, runs of ``[a-z0-9]`` (punctuation dropped).

    Example:
        >>> title_words("The Hobbit: 75th Anniversary Edition", 3)
        ['the', 'hobbit', '75th']
    """
    return _WORD.findall(title.lower())[:max_words]


class WordVocabulary:
    """A word-level vocabulary: specials, template words, domain tokens, title words, then item tokens.

    Attributes:
        tokens: Every token, by id.
        item_offset: Id of the first item token of each domain (its items follow in local-id order).
        n_items: Items of each domain.
    """

    def __init__(self, tokens: Sequence[str], item_offset: Mapping[str, int], n_items: Mapping[str, int]) -> None:
        self.tokens = tuple(tokens)
        self.item_offset = dict(item_offset)
        self.n_items = dict(n_items)
        self._ids = {tok: i for i, tok in enumerate(self.tokens)}

    @classmethod
    def build(cls, titles: Mapping[str, Sequence[str]], template_words: Iterable[str], *, max_words: int,
              words_per_title: int) -> WordVocabulary:
        """Build the vocabulary of a dataset (deterministic: the same data give the same ids).

        Args:
            titles: Each domain's item titles by local item id; domains are taken in sorted order.
            template_words: Words of the prompt templates (always in the vocabulary).
            max_words: Title words kept (the most frequent; ties broken by the word).
            words_per_title: Words of a title that prompts use (only these are counted).
        """
        domains = sorted(titles)
        fixed = list(SPECIAL_TOKENS)
        for word in template_words:
            if word not in fixed:
                fixed.append(word)
        fixed += [domain_token(d) for d in domains]
        counts: Counter[str] = Counter()
        for d in domains:
            for title in titles[d]:
                counts.update(title_words(title, words_per_title))
        taken = set(fixed)
        ranked = sorted((w for w in counts if w not in taken), key=lambda w: (-counts[w], w))
        tokens = fixed + ranked[:max_words]
        offsets, n_items = {}, {}
        for d in domains:
            offsets[d] = len(tokens)
            n_items[d] = len(titles[d])
            tokens += [item_token(d, i) for i in range(len(titles[d]))]
        return cls(tokens, offsets, n_items)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def pad_id(self) -> int:
        """Id of the padding token (0)."""
        return 0

    def encode(self, pieces: Sequence[str]) -> list[int]:
        """Ids of ``pieces`` (one id per piece; a piece outside the vocabulary becomes ``<unk>``)."""
        unk = self._ids["<unk>"]
        return [self._ids.get(p, unk) for p in pieces]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The pieces of ``ids``."""
        return [self.tokens[int(i)] for i in ids]

    def item_ids(self, domain: str) -> np.ndarray:
        """int64 array of shape (n_items,): the token id of each item of ``domain``, by local item id."""
        start = self.item_offset[domain]
        return np.arange(start, start + self.n_items[domain], dtype=np.int64)


class CheckpointTokenizer:
    """A checkpoint's Hugging Face tokenizer with one added token per domain and per item.

    Pieces are joined by spaces and tokenised as text; the added tokens stay single tokens.
    """

    def __init__(self, tokenizer: Any, titles: Mapping[str, Sequence[str]]) -> None:
        self.tokenizer = tokenizer
        domains = sorted(titles)
        added = [domain_token(d) for d in domains]
        added += [item_token(d, i) for d in domains for i in range(len(titles[d]))]
        tokenizer.add_tokens(added)
        self._item_ids = {
            d: np.asarray(tokenizer.convert_tokens_to_ids([item_token(d, i) for i in range(len(titles[d]))]),
                          dtype=np.int64)
            for d in domains
        }
        pad = tokenizer.pad_token_id
        self._pad = int(pad if pad is not None else (tokenizer.eos_token_id or 0))

    def __len__(self) -> int:
        return len(self.tokenizer)

    @property
    def pad_id(self) -> int:
        """Id used for padding (the tokenizer's pad token, else its end-of-sequence token)."""
        return self._pad

    def encode(self, pieces: Sequence[str]) -> list[int]:
        """Ids of the text of ``pieces`` joined by spaces (``<bos>``/``<eos>`` become the tokenizer's own)."""
        tok = self.tokenizer
        text = " ".join(p for p in pieces if p not in ("<bos>", "<eos>"))
        ids = list(tok(text, add_special_tokens=False)["input_ids"])
        if pieces and pieces[0] == "<bos>" and tok.bos_token_id is not None:
            ids = [tok.bos_token_id, *ids]
        if pieces and pieces[-1] == "<eos>" and tok.eos_token_id is not None:
            ids = [*ids, tok.eos_token_id]
        return ids

    def item_ids(self, domain: str) -> np.ndarray:
        """int64 array of shape (n_items,): the token id of each item of ``domain``, by local item id."""
        return self._item_ids[domain]
