"""Baselines of the reid track: a hand-crafted floor, Cluster-Contrast, bottom-up clustering, a supervised reference."""

from baselines.reid.buc import BottomUp
from baselines.reid.cluster_contrast import ClusterContrast
from baselines.reid.handcrafted import Handcrafted
from baselines.reid.supervised import Supervised

__all__ = ["BottomUp", "ClusterContrast", "Handcrafted", "Supervised"]
