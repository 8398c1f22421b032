"""AMMDNN (arXiv:1911.07253): modality paths, attention over them, shared layers and one head per target."""

from methods.ammdnn.method import Ammdnn

__all__ = ["Ammdnn"]
