"""Local backbone weights (the harness's loader, :func:`harness.backbones.load_backbone_weights`).

The baselines import the loader and its error from here; the loader lives in the harness because
every method of a track loads the budget's weights the same way (SNARM included).
"""

from __future__ import annotations

from harness.backbones import WeightsError, load_backbone_weights

__all__ = ["WeightsError", "load_backbone_weights"]
