"""Baselines of the earlyexit track (see ``README.md``).

Linear exits (ViT-EE / DeeBERT, PABEE, PCEE), a learned exit policy (BERxiT) and the static lower envelope (the
backbone truncated after each block).
"""

from baselines.earlyexit.linear import LinearExits, Pabee, Pcee, StaticTruncation
from baselines.earlyexit.policy import LearnedPolicy

__all__ = ["LearnedPolicy", "LinearExits", "Pabee", "Pcee", "StaticTruncation"]
