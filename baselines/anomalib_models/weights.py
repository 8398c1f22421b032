"""Local backbone weights: load a checkpoint into a timm feature network, strictly, or fail clearly.

Nothing is downloaded: every backbone starts from the shared random init of
:func:`harness.backbones.random_init_state`, unless the budget names a local checkpoint. The
checkpoint is a state dict of the whole classification model (as saved by
``torch.save(model.state_dict(), path)`` from timm or torchvision; ResNet keys agree between the
two) or of its feature part only; it may be wrapped in ``{"state_dict": ...}``. Loading is strict:

- every key must be a key of the complete ``backbone`` model (a classifier head is allowed and
  ignored; anything else means the file holds another architecture);
- every parameter and buffer of the feature network must be present with the same shape
  (``num_batches_tracked`` counters excepted: they do not affect the features).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import timm
import torch
from torch import nn

from harness.backbones import random_init_state

__all__ = ["WeightsError", "load_backbone_weights"]

#: Buffers that may be missing from a checkpoint without changing what the network computes.
OPTIONAL_SUFFIXES = ("num_batches_tracked",)


class WeightsError(ValueError):
    """A weights file exists but cannot be loaded into the budget's backbone."""


def _state_dict_of(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        msg = (
            f"weights file {str(path)!r} must hold a state dict (a mapping from names to tensors); "
            f"got {type(obj).__name__}. Save it with torch.save(model.state_dict(), path)."
        )
        raise WeightsError(msg)
    return obj


def _model_keys(backbone: str) -> set[str]:
    with torch.device("meta"):
        model = timm.create_model(backbone, pretrained=False)
    return set(model.state_dict())


def _examples(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")


def load_backbone_weights(feature_net: nn.Module, path: str | Path | None, *, backbone: str, seed: int = 0) -> None:
    """Load the checkpoint at ``path`` into ``feature_net``, a timm feature network of ``backbone``.

    Args:
        feature_net: The network whose parameters and buffers are overwritten (any device).
        path: A local ``.pt``/``.pth`` file, read with ``torch.load(weights_only=True)``; None loads the
            shared random init :func:`harness.backbones.random_init_state` of ``(backbone, seed)``, the
            network every other method of the job grid gets too.
        backbone: timm name of the architecture, for the key check and the messages.
        seed: The job's seed (random init only).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        WeightsError: The file cannot be read, is not a state dict, or does not fit ``backbone``;
            the message names the file and the offending keys.

    Example:
        >>> net = timm.create_model("resnet18", features_only=True, out_indices=[2])
        >>> load_backbone_weights(net, "/nonexistent.pt", backbone="resnet18")
        Traceback (most recent call last):
        ...
        FileNotFoundError: weights file '/nonexistent.pt' does not exist; ...
    """
    if path is None:
        random_state = random_init_state(backbone, seed=seed)
        feature_net.load_state_dict({k: random_state[k] for k in feature_net.state_dict()})
        return
    path = Path(path).expanduser()
    if not path.is_file():
        msg = (
            f"weights file {str(path)!r} does not exist; the budget's weights must be 'random' or the "
            f"path of a local {backbone} state dict (e.g. --set weights=/path/{backbone}.pth)."
        )
        raise FileNotFoundError(msg)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = (
            f"weights file {str(path)!r} cannot be read with torch.load(weights_only=True): {exc}. "
            "Save a plain state dict with torch.save(model.state_dict(), path)."
        )
        raise WeightsError(msg) from exc
    state = _state_dict_of(obj, path)
    expected = feature_net.state_dict()
    foreign = sorted(set(state) - _model_keys(backbone))
    missing = sorted(k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIXES))
    if foreign or missing:
        msg = (
            f"weights file {str(path)!r} does not fit backbone {backbone!r}: "
            f"{len(foreign)} of its {len(state)} keys are not {backbone} keys ({_examples(foreign) or 'none'}) and "
            f"{len(missing)} of the {len(expected)} feature keys are missing ({_examples(missing) or 'none'}). "
            f"Pass a {backbone} checkpoint, or set the budget's backbone to the checkpoint's architecture."
        )
        raise WeightsError(msg)
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if wrong:
        key = wrong[0]
        msg = (
            f"weights file {str(path)!r} does not fit backbone {backbone!r}: key {key!r} has shape "
            f"{tuple(state[key].shape)}, the backbone expects {tuple(expected[key].shape)} "
            f"({len(wrong)} keys differ). Pass a {backbone} checkpoint."
        )
        raise WeightsError(msg)
    feature_net.load_state_dict({k: state[k] for k in expected if k in state}, strict=False)
