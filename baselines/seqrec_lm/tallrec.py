"""TALLRec-style baseline: the LM tuned on the target domain only, in an instruction template, no pre-training.

The same LM, tokeniser, adaptation budget and item-token scoring as CPRec (:mod:`methods.cprec.lm`); what differs
is TALLRec's recipe: no continual pre-training, and instruction tuning in TALLRec's instruction/input/response
template (:class:`~methods.cprec.prompts.TallRecTemplate`) adapted from its yes/no preference question to next-item
prediction, with the loss on the response only (one target per example: the user's history cut at a random point,
the next item as the response).

Reference:
    Keqin Bao, Jizhi Zhang, Yang Zhang, Wenjie Wang, Fuli Feng, Xiangnan He. "TALLRec: An Effective and Efficient
    Tuning Framework to Align Large Language Model with Recommendation." RecSys 2023 (arXiv:2305.00447).

License:
    Apache-2.0 (this implementation).
"""

from __future__ import annotations

from methods.cprec.lm import LMRecConfig, LMRecommender
from methods.cprec.prompts import TallRecTemplate

__all__ = ["TallRec"]


class TallRec(LMRecommender):
    """TALLRec-style instruction tuning on the target domain (see the module docstring)."""

    name = "tallrec"
    kind = "baseline"
    paper = "arXiv:2305.00447 (Bao et al., RecSys 2023)"
    template_cls = TallRecTemplate
    Config = LMRecConfig
