"""CPRec: all-domain continual pre-training of an LM recommender, then adaptation to the target domain.

The LM first learns every domain's behaviour in one unified prompt template (:class:`~methods.cprec.prompts.
UnifiedTemplate`): each user's domain-specific sequences and, with ``mixed=True``, the user's all-domain mixed
sequence (every domain's events merged by time, each item tagged with its domain), packed into ``lm_context``-token
rows for exactly ``budget.cpt_tokens`` tokens under the Warmup-Stable-Annealing learning-rate schedule. It is then
adapted to the target domain by next-item prediction in the same template and scores every item of the target
domain by its item token's logit after the user's history (:mod:`methods.cprec.lm`). The pre-trained LM is the same
for every target domain of a dataset and seed and is cached (:mod:`methods.cprec.cpt_cache`).

Ablations are configs: ``schedule="cosine"`` (or ``"constant"``) in place of WSA at the same token budget,
``mixed=False`` (domain-specific sequences only, same token budget) and ``cpt=False`` (adaptation only).

Reference:
    Haokai Ma, Yunshan Ma, Ruobing Xie, Lei Meng, Jialie Shen, Xingwu Sun, Zhanhui Kang, Tat-Seng Chua. "Large
    Language Model Empowered Recommendation Meets All-domain Continual Pre-Training." arXiv:2504.08949, 2025.

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from harness.options import option
from harness.tracks.seqrec.contract import SeqRecTrain
from methods.cprec.lm import LMRecConfig, LMRecommender, PretrainPlan
from methods.cprec.prompts import UnifiedTemplate, mixed_events
from methods.cprec.schedule import SCHEDULES

__all__ = ["CPRec"]

#: Config fields that only the adaptation or the scoring read (left out of the pre-training cache key).
_NOT_CPT_FIELDS = ("sft_warmup_frac", "score_batch_size", "cache", "cpt")


class CPRec(LMRecommender):
    """CPRec (see the module docstring)."""

    name = "cprec"
    kind = "method"
    paper = "arXiv:2504.08949 (Ma et al., 2025)"
    template_cls = UnifiedTemplate

    @dataclass(frozen=True)
    class Config(LMRecConfig):
        """Options of CPRec."""

        cpt: bool = option(True, "Run the all-domain continual pre-training (False: adaptation only).")
        mixed: bool = option(True, "Add each user's all-domain mixed sequence to the pre-training documents.")
        schedule: str = option("wsa", "Learning-rate schedule of pre-training: wsa, cosine or constant (all with "
                               "the same warmup and token budget).", choices=SCHEDULES)
        warmup_frac: float = option(0.05, "Share of the pre-training steps in the linear warmup.", ge=0, le=1)
        anneal_frac: float = option(0.1, "Share of the pre-training steps in WSA's annealing phase.", ge=0, le=1)
        min_lr_frac: float = option(0.1, "Final learning rate of the anneal (and of cosine), as a share of the "
                                    "peak.", ge=0, le=1)
        cache: bool = option(True, "Keep the pre-trained LM in the cache of derived files ($PARBENCH_CACHE).")

    def pretrains(self) -> bool:
        """Whether the continual pre-training runs (``cpt``)."""
        return bool(self.config.cpt)

    def pretrain_config(self) -> dict[str, Any]:
        """The config fields pre-training reads (not the adaptation's or the scoring's)."""
        return {k: v for k, v in dataclasses.asdict(self.config).items() if k not in _NOT_CPT_FIELDS}

    def pretrain_plan(self, train: SeqRecTrain, val_users: set[int]) -> PretrainPlan:
        """Domain-specific sequences of every domain, plus the mixed sequences of users of two domains or more.

        The mixed sequences come only with ``mixed``; the documents of ``val_users`` are held out for the
        validation loss.
        """
        cfg, template = self.config, self.template_
        docs, val_docs = [], []
        for name in sorted(train.domains):
            dom = train.domains[name]
            for row, user in enumerate(dom.users.tolist()):
                (val_docs if user in val_users else docs).append(template.document(name, dom.sequence(row)))
        if cfg.mixed:
            for user, events in mixed_events(train.domains).items():
                if len({d for d, _ in events}) > 1:
                    (val_docs if user in val_users else docs).append(template.mixed_document(events))
        return PretrainPlan(docs, val_docs, schedule=cfg.schedule, warmup_frac=cfg.warmup_frac,
                            anneal_frac=cfg.anneal_frac, min_lr_frac=cfg.min_lr_frac)
