"""The triple-measure active-learning strategy (Du et al., arXiv:1904.06685); see README.md."""

from methods.triple_measures.method import TripleMeasures

__all__ = ["TripleMeasures"]
