"""Baselines of the prompt track: zero-shot CLIP, linear probe, CoOp, CoCoOp, MaPLe, VPT-shallow."""

from __future__ import annotations

from baselines.prompt.text import CoCoOp, CoOp, LinearProbe, ZeroShot
from baselines.prompt.visual import Maple, VptShallow

__all__ = ["CoCoOp", "CoOp", "LinearProbe", "Maple", "VptShallow", "ZeroShot"]
