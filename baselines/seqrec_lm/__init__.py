"""LM recommenders without continual pre-training: the TALLRec-style baseline of the seqrec track; see README.md."""

from baselines.seqrec_lm.tallrec import TallRec

__all__ = ["TallRec"]
