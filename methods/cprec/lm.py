"""The LM recommender shared by CPRec and the TALLRec-style baseline: tokeniser, prompts, training stages, scoring.

:class:`LMRecommender` is a :class:`~harness.tracks.seqrec.method.SeqRecMethod` whose subclasses choose a prompt
template (:mod:`methods.cprec.prompts`) and whether continual pre-training runs, on which documents and with which
schedule. A job:

1. builds the tokeniser and the LM: with ``budget.weights == "random"`` a word vocabulary of the dataset
   (:class:`~methods.cprec.vocab.WordVocabulary`) and a causal LM of the budget's size trained from scratch; with a
   checkpoint folder, the checkpoint's model and tokenizer with one added token per domain and item;
2. continual pre-training (subclass hook :meth:`LMRecommender.pretrain_documents`): language modelling over
   exactly ``budget.cpt_tokens`` tokens of packed ``lm_context``-token rows, cached per dataset, budget, config and
   seed (:mod:`methods.cprec.cpt_cache`);
3. adaptation to the target domain: ``budget.sft_steps`` optimiser steps of next-item prediction in the template,
   a softmax over the target domain's item tokens, warmup then cosine decay from ``budget.sft_learning_rate``;
4. scoring: one forward pass per user over a prompt that ends where the next item comes; the scores of all the
   target domain's items are the LM's logits of their item tokens at that position (item-token scoring).

Diagnostics (``self.extras_``, float64, one point per optimiser step of both stages): ``lm_tokens`` (tokens seen so
far), ``lm_lr``, ``lm_val_loss`` (held-out loss every ``eval_every`` steps and at the last step, NaN elsewhere:
language-model loss on held-out users' documents in pre-training, next-item loss of the target's validation items
in adaptation), ``lm_stage`` (0 pre-training, 1 adaptation) and ``lm_tokens_per_s`` (shape (1,): tokens, padding
excluded, per second of the optimiser steps this job ran; the cached pre-training's own when the job ran none).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from harness.api import Budget, Context
from harness.errors import BudgetError
from harness.options import option
from harness.tracks.seqrec.contract import SeqRecInputs, SeqRecTrain
from harness.tracks.seqrec.method import SeqRecMethod
from methods.cprec.cpt_cache import cached_cpt_state, data_fingerprint
from methods.cprec.model import build_lm, item_logits, item_loss, last_hidden, lm_loss, load_lm, pad_rows
from methods.cprec.prompts import pack_tokens
from methods.cprec.schedule import learning_rates
from methods.cprec.vocab import CheckpointTokenizer, WordVocabulary

__all__ = ["LMRecConfig", "LMRecommender", "PretrainPlan"]

#: Budget fields continual pre-training reads (they enter the cache key).
CPT_BUDGET_FIELDS = ("lm_arch", "lm_layers", "lm_dim", "lm_heads", "lm_context", "lm_batch_size",
                     "lm_learning_rate", "cpt_tokens")


@dataclass(frozen=True)
class LMRecConfig:
    """Options shared by the LM recommenders."""

    title_words: int = option(5, "Title words written after each item token in a prompt.", ge=0)
    max_words: int = option(2000, "Title words in the from-scratch vocabulary (the most frequent; others <unk>).",
                            ge=0)
    eval_every: int = option(50, "Optimiser steps between two held-out losses (lm_val_loss).", ge=1)
    n_val: int = option(64, "Held-out users of the validation losses (at most a tenth of the users are removed "
                        "from pre-training for it).", ge=1)
    sft_warmup_frac: float = option(0.05, "Share of the adaptation steps in the linear warmup (then cosine).",
                                    ge=0, le=1)
    weight_decay: float = option(0.01, "AdamW weight decay of both stages.", ge=0)
    grad_clip: float = option(1.0, "Gradient-norm clip of both stages.", gt=0)
    score_batch_size: int = option(64, "Users per forward pass when scoring.", ge=1)


@dataclass
class PretrainPlan:
    """What continual pre-training runs: documents, held-out documents and the schedule of its learning rate."""

    docs: list[np.ndarray]
    val_docs: list[np.ndarray]
    schedule: str = "wsa"
    warmup_frac: float = 0.05
    anneal_frac: float = 0.1
    min_lr_frac: float = 0.1


class _Curves:
    """One point per optimiser step: tokens seen, learning rate, held-out loss (NaN if none), stage."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float, float]] = []

    def add(self, tokens: float, lr: float, val_loss: float, stage: int) -> None:
        self.rows.append((tokens, lr, val_loss, float(stage)))

    def arrays(self) -> dict[str, np.ndarray]:
        data = np.asarray(self.rows, dtype=np.float64).reshape(-1, 4)
        return {"lm_tokens": data[:, 0], "lm_lr": data[:, 1], "lm_val_loss": data[:, 2], "lm_stage": data[:, 3]}


class LMRecommender(SeqRecMethod):
    """Base class of the LM recommenders (see the module docstring); subclasses set ``template_cls``."""

    template_cls: ClassVar[type] = type(None)
    Config = LMRecConfig

    # -- hooks -------------------------------------------------------------------------------------------------
    def pretrains(self) -> bool:
        """Whether continual pre-training runs (False by default)."""
        return False

    def pretrain_plan(self, train: SeqRecTrain, val_users: set[int]) -> PretrainPlan:
        """Documents (held-out users' apart) and schedule of continual pre-training."""
        msg = f"{type(self).__name__} pre-trains (pretrains() is True) but does not define pretrain_plan."
        raise NotImplementedError(msg)

    def pretrain_config(self) -> dict[str, Any]:
        """The config fields continual pre-training depends on (they enter the cache key)."""
        return dataclasses.asdict(self.config)

    # -- training ----------------------------------------------------------------------------------------------
    def train(self, train: SeqRecTrain, budget: Budget, ctx: Context) -> None:
        """Build the tokeniser and LM, pre-train (if the subclass does), adapt to the target domain."""
        cfg = self.config
        titles = {name: dom.titles for name, dom in train.domains.items()}
        self.device_t_ = torch.device(ctx.device)
        self._build(budget, titles)
        self.template_ = self.template_cls(titles, self.tokenizer_.encode, words_per_title=cfg.title_words,
                                           context=budget.lm_context, max_len=budget.max_len)
        self.target_ = train.target
        self._curves = _Curves()
        self._tokens, self._train_tokens, self._train_s = 0, 0, 0.0
        rng = np.random.default_rng(ctx.seed)
        n_val_users = min(cfg.n_val, max(1, train.n_users // 10))  # at most a tenth of the users
        val_users = {int(u) for u in rng.choice(np.arange(train.n_users), n_val_users, replace=False)}
        cached_tps = None
        if self.pretrains() and budget.cpt_tokens > 0:
            cached_tps = self._pretrain(train, budget, ctx, val_users)
        self._adapt(train, budget, ctx)
        tps = self._train_tokens / self._train_s if self._train_s > 0 else (cached_tps or float("nan"))
        self.extras_ = {**self._curves.arrays(), "lm_tokens_per_s": np.array([tps], dtype=np.float64)}

    def _build(self, budget: Budget, titles: dict[str, tuple[str, ...]]) -> None:
        cfg = self.config
        if budget.weights == "random":
            vocab = WordVocabulary.build(titles, self.template_cls.words, max_words=cfg.max_words,
                                         words_per_title=cfg.title_words)
            model = build_lm(budget.lm_arch, vocab_size=len(vocab), n_layers=budget.lm_layers, dim=budget.lm_dim,
                             n_heads=budget.lm_heads, context=budget.lm_context, pad_id=vocab.pad_id)
            self.tokenizer_: Any = vocab
        else:
            try:
                model, hf_tokenizer = load_lm(budget.weights)
            except (FileNotFoundError, OSError) as exc:
                msg = f"budget {budget.name!r}: weights={budget.weights!r} cannot be loaded ({exc})"
                raise BudgetError(msg) from exc
            self.tokenizer_ = CheckpointTokenizer(hf_tokenizer, titles)
            model.resize_token_embeddings(len(self.tokenizer_))
        self.model_ = model.to(self.device_t_)

    def _pretrain(self, train: SeqRecTrain, budget: Budget, ctx: Context, val_users: set[int]) -> float:
        payload = {
            "method": type(self).__name__, "config": self.pretrain_config(), "seed": ctx.seed,
            "budget": {k: getattr(budget, k) for k in CPT_BUDGET_FIELDS},
            "weights": budget.weights_id(),
        }

        def compute() -> dict[str, torch.Tensor]:
            plan = self.pretrain_plan(train, val_users)
            curves, seconds = self._run_pretraining(plan, budget, ctx.seed)
            state = {f"model.{k}": v.detach().to("cpu").clone() for k, v in self.model_.state_dict().items()}
            state.update({f"curve.{k}": torch.from_numpy(v.copy()) for k, v in curves.items()})
            state["tokens_per_s"] = torch.tensor([budget.cpt_tokens / max(seconds, 1e-9)], dtype=torch.float64)
            return state

        state = cached_cpt_state(data_fingerprint(train.domains), payload, compute, use_cache=self._use_cache(),
                                 log=self.log_, cache_root=train.cache_root)
        self.model_.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")})
        cols = [state[f"curve.{k}"].numpy() for k in ("lm_tokens", "lm_lr", "lm_val_loss", "lm_stage")]
        self._curves.rows = [tuple(float(c[i]) for c in cols) for i in range(len(cols[0]))]
        self._tokens = budget.cpt_tokens
        return float(state["tokens_per_s"][0])

    def _use_cache(self) -> bool:
        return bool(getattr(self.config, "cache", True))

    def _run_pretraining(self, plan: PretrainPlan, budget: Budget, seed: int) -> tuple[dict[str, np.ndarray], float]:
        """Language modelling over exactly ``budget.cpt_tokens`` packed tokens; returns its curves and seconds."""
        model, pad = self.model_, self.tokenizer_.pad_id
        rows_per_step, width = budget.lm_batch_size, budget.lm_context
        if not plan.docs:
            msg = "continual pre-training has no documents: the training data hold no sequence."
            raise ValueError(msg)
        stream = pack_tokens(plan.docs, budget.cpt_tokens, np.random.default_rng([seed, 1]))
        n_steps = math.ceil(len(stream) / (rows_per_step * width))
        lrs = learning_rates(n_steps, budget.lm_learning_rate, schedule=plan.schedule, warmup_frac=plan.warmup_frac,
                             anneal_frac=plan.anneal_frac, min_lr_frac=plan.min_lr_frac)
        val_stream = pack_tokens(plan.val_docs, min(sum(map(len, plan.val_docs)), rows_per_step * width),
                                 np.random.default_rng([seed, 2]))
        val_rows = [val_stream[i:i + width] for i in range(0, len(val_stream), width)]

        def batch(step: int) -> tuple[torch.Tensor, torch.Tensor, int]:
            chunk = stream[step * rows_per_step * width:(step + 1) * rows_per_step * width]
            rows = [chunk[i:i + width] for i in range(0, len(chunk), width)]
            return pad_rows(rows, pad), pad_rows(rows, pad, fill=-100), len(chunk)

        def val_loss() -> float:
            if not val_rows:
                return float("nan")
            return float(lm_loss(model, pad_rows(val_rows, pad).to(self.device_t_),
                                 pad_rows(val_rows, pad, fill=-100).to(self.device_t_)))

        started = self._train_s
        self._run_steps(0, lrs, batch, lambda ids, labels: lm_loss(model, ids, labels), val_loss)
        return self._curves.arrays(), self._train_s - started

    def _adapt(self, train: SeqRecTrain, budget: Budget, ctx: Context) -> None:
        """``budget.sft_steps`` steps of next-item prediction on the target domain's training sequences."""
        dom, cfg, model = train.domain, self.config, self.model_
        if budget.sft_steps == 0 or dom.n_users == 0:
            return
        item_ids = torch.from_numpy(self.tokenizer_.item_ids(dom.name)).to(self.device_t_)
        rng = np.random.default_rng([ctx.seed, 3])
        seqs = [dom.sequence(r) for r in range(dom.n_users)]
        order = np.concatenate([rng.permutation(dom.n_users)
                                for _ in range(math.ceil(budget.sft_steps * budget.lm_batch_size / dom.n_users))])
        val_rows = rng.permutation(dom.n_users)[:cfg.n_val]
        val_prompts = [self.template_.prompt(dom.name, seqs[r]) for r in val_rows]
        val_targets = torch.as_tensor(train.val_items[val_rows], dtype=torch.int64)
        lrs = learning_rates(budget.sft_steps, budget.sft_learning_rate, schedule="cosine",
                             warmup_frac=cfg.sft_warmup_frac, min_lr_frac=0.1)
        pad = self.tokenizer_.pad_id

        def batch(step: int) -> tuple[torch.Tensor, torch.Tensor, int]:
            rows = order[step * budget.lm_batch_size:(step + 1) * budget.lm_batch_size]
            examples = [self.template_.example(dom.name, seqs[r], rng) for r in rows]
            ids = pad_rows([e[0] for e in examples], pad)
            return ids, pad_rows([e[1] for e in examples], pad, fill=-1), sum(len(e[0]) for e in examples)

        def val_loss() -> float:
            logits = self._prompt_logits(val_prompts, item_ids)
            return float(torch.nn.functional.cross_entropy(logits, val_targets))

        self._run_steps(1, lrs, batch, lambda ids, targets: item_loss(model, ids, targets, item_ids), val_loss)

    def _run_steps(self, stage: int, lrs: np.ndarray, batch: Any, loss_fn: Any, val_loss: Any) -> None:
        """The optimiser loop of one stage (AdamW, betas (0.9, 0.95), gradient clipping), logging each step."""
        model, cfg = self.model_, self.config
        opt = torch.optim.AdamW(model.parameters(), lr=float(lrs[0]) if len(lrs) else 0.0,
                                weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
        model.train()
        for step, lr in enumerate(lrs):
            started = time.perf_counter()
            for group in opt.param_groups:
                group["lr"] = float(lr)
            ids, labels, n_tokens = batch(step)
            loss = loss_fn(ids.to(self.device_t_), labels.to(self.device_t_))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            self._train_s += time.perf_counter() - started
            self._tokens += n_tokens
            self._train_tokens += n_tokens
            measured = float("nan")
            if (step + 1) % cfg.eval_every == 0 or step == len(lrs) - 1:
                model.eval()
                with torch.no_grad():
                    measured = val_loss()
                model.train()
            self._curves.add(self._tokens, float(lr), measured, stage)
        model.eval()

    # -- scoring -----------------------------------------------------------------------------------------------
    def _prompt_logits(self, prompts: list[np.ndarray], item_ids: torch.Tensor) -> torch.Tensor:
        """Item-token logits at each prompt's last position: float tensor of shape (n_prompts, n_items).

        Prompts are batched by length (less padding); the rows come back in the order of ``prompts``.
        """
        out = torch.empty((len(prompts), len(item_ids)), dtype=torch.float32)
        order = np.argsort([len(p) for p in prompts], kind="stable")
        size = self.config.score_batch_size
        for start in range(0, len(prompts), size):
            rows = order[start:start + size]
            part = [prompts[r] for r in rows]
            ids = pad_rows(part, self.tokenizer_.pad_id).to(self.device_t_)
            hidden = last_hidden(self.model_, ids)
            last = torch.as_tensor([len(p) - 1 for p in part], device=hidden.device)
            logits = item_logits(self.model_, hidden[torch.arange(len(part), device=hidden.device), last], item_ids)
            out[torch.from_numpy(rows)] = logits.float().cpu()
        return out

    def score(self, inputs: SeqRecInputs) -> np.ndarray:
        """float32 array of shape (n_users, n_items): item-token logits after each user's history prompt.

        Raises:
            ValueError: ``inputs`` is of another domain than the one the model was adapted to.
        """
        if inputs.domain != self.target_:
            msg = f"{type(self).__name__} was adapted to domain {self.target_!r}; got inputs of {inputs.domain!r}."
            raise ValueError(msg)
        item_ids = torch.from_numpy(self.tokenizer_.item_ids(inputs.domain)).to(self.device_t_)
        prompts = [self.template_.prompt(inputs.domain, inputs.sequence(r)) for r in range(len(inputs))]
        self.model_.eval()
        with torch.no_grad():
            return self._prompt_logits(prompts, item_ids).numpy().astype(np.float32)
