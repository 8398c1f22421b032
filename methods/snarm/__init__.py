"""SNARM, Self-Navigated Residual Mamba for industrial anomaly detection (arXiv:2508.01591)."""

from methods.snarm.method import Snarm

__all__ = ["Snarm"]
