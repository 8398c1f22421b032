"""Prompt templates and training sequences of the LM recommenders (CPRec's unified template, TALLRec's instruction).

Every item in a prompt is written as its item token followed by the first words of its title
(:func:`~methods.cprec.vocab.title_words`), so the text carries signal beyond the ids. The item token comes right
after a separator (``:`` or ``;`` in CPRec's template, ``:`` or ``,`` in TALLRec's), so the position of the
separator is where the LM predicts the next item: training reads the item-token logits there and scoring reads them
at the last position of a prompt that ends with a separator.

- :class:`UnifiedTemplate` (CPRec): one template for every domain. A domain-specific sequence is
  ``<bos> user history in <dom:D> : <D_i> title ; <D_j> title ; ... <eos>``; an all-domain mixed sequence tags each
  item with its domain, ``<bos> user history in all domains : <dom:A> <A_i> title ; <dom:B> <B_j> title ; ... <eos>``.
  Adaptation (SFT) trains the next-item prediction at every item of a target-domain sequence.
- :class:`TallRecTemplate` (TALLRec): ``<bos> ### instruction : given the items the user bought in <dom:D> ,
  predict the next item . ### input : <D_i> title , <D_j> title , ... ### response : <D_k> <eos>``; adaptation
  trains the response only (one target per example, the history cut at a random point).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from harness.tracks.seqrec.contract import DomainSequences
from methods.cprec.vocab import domain_token, item_token, title_words

__all__ = ["TallRecTemplate", "UnifiedTemplate", "mixed_events", "pack_tokens"]

Encode = Callable[[Sequence[str]], list]


class _Template:
    """Shared rendering: item pieces, truncation to the context, (ids, targets) pairs."""

    #: Words of the template (they enter the word vocabulary).
    words: tuple[str, ...] = ()
    sep = ";"

    def __init__(self, titles: Mapping[str, Sequence[str]], encode: Encode, *, words_per_title: int,
                 context: int, max_len: int) -> None:
        self.encode = encode
        self.context = context
        self.max_len = max_len
        self._item = {
            d: [encode([item_token(d, i), *title_words(t, words_per_title)]) for i, t in enumerate(ts)]
            for d, ts in titles.items()
        }
        self._sep = encode([self.sep])
        self._dom = {d: encode([domain_token(d)]) for d in titles}

    def _fit(self, head: list[int], events: list[list[int]], tail: list[int]) -> list[list[int]]:
        """The most recent events (at most ``max_len``) that fit in the context with ``head`` and ``tail``."""
        room = self.context - len(head) - len(tail)
        kept: list[list[int]] = []
        for ev in reversed(events[-self.max_len:]):
            if len(ev) > room:
                break
            kept.append(ev)
            room -= len(ev)
        return kept[::-1]

    @staticmethod
    def _join(head: list[int], events: list[list[int]], tail: list[int],
              targets_at: list[int | None]) -> tuple[np.ndarray, np.ndarray]:
        """Concatenate; ``targets_at[k]`` (an item id or None) is predicted at the token before event ``k``."""
        ids = list(head)
        targets = [-1] * len(head)
        for ev, target in zip(events, targets_at, strict=True):
            if target is not None:
                targets[-1] = target
            ids += ev
            targets += [-1] * len(ev)
        ids += tail
        targets += [-1] * len(tail)
        return np.asarray(ids, dtype=np.int64), np.asarray(targets, dtype=np.int64)


class UnifiedTemplate(_Template):
    """CPRec's unified template (see the module docstring)."""

    words = ("<bos>", "<eos>", "user", "history", "in", "all", "domains", ":", ";")
    sep = ";"

    def __init__(self, titles: Mapping[str, Sequence[str]], encode: Encode, *, words_per_title: int,
                 context: int, max_len: int) -> None:
        super().__init__(titles, encode, words_per_title=words_per_title, context=context, max_len=max_len)
        self._head = {d: encode(["<bos>", "user", "history", "in", domain_token(d), ":"]) for d in titles}
        self._mixed_head = encode(["<bos>", "user", "history", "in", "all", "domains", ":"])
        self._eos = encode(["<eos>"])

    def document(self, domain: str, items: Sequence[int]) -> np.ndarray:
        """int64 ids of a domain-specific sequence (every item, no truncation: documents are packed)."""
        ids = list(self._head[domain])
        for i in items:
            ids += self._item[domain][int(i)] + self._sep
        return np.asarray(ids + self._eos, dtype=np.int64)

    def mixed_document(self, events: Sequence[tuple[str, int]]) -> np.ndarray:
        """int64 ids of an all-domain mixed sequence; ``events`` are (domain, item) pairs in time order."""
        ids = list(self._mixed_head)
        for d, i in events:
            ids += self._dom[d] + self._item[d][int(i)] + self._sep
        return np.asarray(ids + self._eos, dtype=np.int64)

    def example(self, domain: str, items: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Adaptation example: the sequence's most recent items that fit, each item a target (``rng`` unused)."""
        del rng
        events = self._fit(self._head[domain], [self._item[domain][int(i)] + self._sep for i in items], [])
        kept = [int(i) for i in items[len(items) - len(events):]]
        return self._join(self._head[domain], events, [], kept)

    def prompt(self, domain: str, items: Sequence[int]) -> np.ndarray:
        """int64 ids of a scoring prompt: the history, ending with a separator (the next item comes next)."""
        events = self._fit(self._head[domain], [self._item[domain][int(i)] + self._sep for i in items], [])
        return self._join(self._head[domain], events, [], [None] * len(events))[0]


class TallRecTemplate(_Template):
    """TALLRec's instruction template adapted to next-item prediction (see the module docstring)."""

    words = ("<bos>", "<eos>", "###", "instruction", "input", "response", ":", "given", "the", "items", "user",
             "bought", "in", "predict", "next", "item", ".", ",")
    sep = ","

    def __init__(self, titles: Mapping[str, Sequence[str]], encode: Encode, *, words_per_title: int,
                 context: int, max_len: int) -> None:
        super().__init__(titles, encode, words_per_title=words_per_title, context=context, max_len=max_len)
        self._head = {
            d: encode(["<bos>", "###", "instruction", ":", "given", "the", "items", "the", "user", "bought", "in",
                       domain_token(d), ",", "predict", "the", "next", "item", ".", "###", "input", ":"])
            for d in titles
        }
        self._tail = encode(["###", "response", ":"])

    def example(self, domain: str, items: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Adaptation example: the history cut at a random ``k`` (1 <= k < n; 0 if n = 1), the response item ``k``."""
        cut = int(rng.integers(1, len(items))) if len(items) > 1 else 0
        ids, _ = self._prompt_ids(domain, items[:cut])
        targets = np.full(len(ids), -1, dtype=np.int64)
        targets[-1] = int(items[cut])
        return ids, targets

    def _prompt_ids(self, domain: str, items: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        events = self._fit(self._head[domain], [self._item[domain][int(i)] + self._sep for i in items], self._tail)
        return self._join(self._head[domain], events, self._tail, [None] * len(events))

    def prompt(self, domain: str, items: Sequence[int]) -> np.ndarray:
        """int64 ids of a scoring prompt: the instruction, the history, then ``### response :``."""
        return self._prompt_ids(domain, items)[0]


def mixed_events(domains: Mapping[str, DomainSequences]) -> dict[int, list[tuple[str, int]]]:
    """Each user's events of every domain merged by time: (domain, local item) pairs.

    Ties in time keep the order of the domains (sorted by name), then each domain's own order.

    Returns:
        Global user id -> events in time order (only users with at least one event).
    """
    per_user: dict[int, list[tuple[int, int, int, str, int]]] = {}
    for d_index, name in enumerate(sorted(domains)):
        dom = domains[name]
        for row, user in enumerate(dom.users.tolist()):
            lo, hi = int(dom.indptr[row]), int(dom.indptr[row + 1])
            events = per_user.setdefault(int(user), [])
            for pos in range(lo, hi):
                events.append((int(dom.times[pos]), d_index, pos, name, int(dom.items[pos])))
    return {u: [(e[3], e[4]) for e in sorted(evs)] for u, evs in per_user.items()}


def pack_tokens(docs: Sequence[np.ndarray], n_tokens: int, rng: np.random.Generator) -> np.ndarray:
    """A stream of exactly ``n_tokens`` token ids: the documents concatenated in a fresh random order per epoch.

    Args:
        docs: int64 arrays of token ids (each starts with ``<bos>`` and ends with ``<eos>``).
        n_tokens: Length of the stream (documents repeat in new orders when it exceeds one epoch).
        rng: Draws each epoch's order.

    Returns:
        int32 array of shape (n_tokens,) (held in memory: 4 bytes per token).
    """
    if n_tokens <= 0 or not docs:
        return np.zeros(0, dtype=np.int32)
    out = np.empty(n_tokens, dtype=np.int32)
    filled = 0
    while filled < n_tokens:
        for k in rng.permutation(len(docs)):
            doc = docs[k][: n_tokens - filled]
            out[filled:filled + len(doc)] = doc
            filled += len(doc)
            if filled == n_tokens:
                break
    return out
