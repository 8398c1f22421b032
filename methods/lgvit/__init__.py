"""LGViT, dynamic early exiting for vision transformers with local and global exit heads (arXiv:2308.00255)."""

from methods.lgvit.method import Lgvit

__all__ = ["Lgvit"]
