"""Baselines of the earlyexit track: linear exits, a learned exit policy and the static lower envelope.

Linear exits (ViT-EE / DeeBERT, PABEE, PCEE), a learned exit policy (BERxiT) and the backbone truncated after each
block. See ``README.md``.
"""

from baselines.earlyexit.linear import LinearExits, Pabee, Pcee, StaticTruncation
from baselines.earlyexit.policy import LearnedPolicy

__all__ = ["LearnedPolicy", "LinearExits", "Pabee", "Pcee", "StaticTruncation"]
