"""Baselines of the wsol track: CAM, Hide-and-Seek, PSOL (DDT pseudo boxes + box regression), a centre box."""

from baselines.wsol.cam import Cam
from baselines.wsol.center import CenterBox
from baselines.wsol.psol import Psol

__all__ = ["Cam", "CenterBox", "Psol"]
