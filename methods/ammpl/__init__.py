"""Adaptive multi-modality prompt learning (arXiv 2312.00823) on the prompt track."""

from __future__ import annotations

from methods.ammpl.method import Ammpl

__all__ = ["Ammpl"]
