"""Pseudo-pair self-similarity learning (arXiv:2207.13035): patch surrogate classes, pseudo pairs, intra/inter."""

from methods.pseudo_pair.method import PseudoPair

__all__ = ["PseudoPair"]
