"""BCD + WE (arXiv:2308.06161): a binary-class detector on pseudo boxes, weighted entropy on unlabelled images."""

from methods.bcd_we.method import BcdWe

__all__ = ["BcdWe"]
