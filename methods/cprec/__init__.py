"""CPRec, all-domain continual pre-training for LM-based recommendation (arXiv:2504.08949); see README.md.

The shared LM-recommender code (:mod:`methods.cprec.lm`) also serves the TALLRec-style baseline
(:mod:`baselines.seqrec_lm`).
"""

from methods.cprec.method import CPRec

__all__ = ["CPRec"]
