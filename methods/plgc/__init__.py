"""PLGC, Personalized Local-Global Collaboration for federated recommendation (arXiv:2508.19591); see README.md."""

from methods.plgc.method import PLGC

__all__ = ["PLGC"]
