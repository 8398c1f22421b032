"""The random-init backbone every method of a track shares when the budget names no checkpoint.

Nothing is downloaded, so ``weights = "random"`` is the default of the vision budgets. "Random" must still
mean *one* network for all methods of a job grid (the same backbone and weights for every row of a table):
:func:`random_init_state` is a function of the backbone name and the job's seed only, drawn under a private
generator state, so it does not depend on what a method drew before, nor moves the method's own draws.

It is timm's own initialisation. For residual networks that zeroes the scale of the last batch norm of each
residual branch, so at random init every block is the identity and a stage only subsamples its input with a
strided 1x1 convolution: a ResNet's ``layer1`` is the stem's random filter bank (an 11 x 11 pixel window every
4 pixels), ``layer3`` the same window every 16 pixels. That is why the CPU budgets of the anomaly track use
``layer1`` and ``layer2``. With the branches switched on (``zero_init_last=False``) the deep features are
worse still on the embedded data (random deep ReLU features smear the image; numbers in
``baselines/anomalib_models/README.md``). ``--weights PATH`` (a local checkpoint) replaces the random
network for every method alike.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = ["RANDOM_WEIGHTS", "WeightsError", "is_random", "load_backbone_weights", "random_init_state"]

class WeightsError(ValueError):
    """A weights file exists but cannot be loaded into the budget's backbone."""


#: Budget ``weights`` values that mean "random init".
RANDOM_WEIGHTS = ("", "random")


def is_random(weights: object) -> bool:
    """True when the budget's ``weights`` value asks for random init (None, ``""`` or ``"random"``)."""
    return weights is None or str(weights).strip() in RANDOM_WEIGHTS


def random_init_state(backbone: str, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """State dict of the whole timm model ``backbone`` at random init, a function of ``(backbone, seed)``.

    Args:
        backbone: timm model name, e.g. ``"resnet18"``.
        seed: The job's seed.

    Returns:
        The state dict (CPU tensors) of ``timm.create_model(backbone, pretrained=False)``, classifier
        included.

    Example:
        >>> a, b = random_init_state("resnet18", seed=0), random_init_state("resnet18", seed=0)
        >>> bool(torch.equal(a["layer3.0.conv1.weight"], b["layer3.0.conv1.weight"]))
        True
    """
    import timm

    generator_seed = zlib.crc32(f"{backbone}:{int(seed)}".encode())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(generator_seed)
        model = timm.create_model(backbone, pretrained=False)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# Loading a local checkpoint is strict: every key must be a key of the complete ``backbone`` model (a
# classifier head is allowed and ignored; anything else means the file holds another architecture), and every
# parameter and buffer of the feature network must be present with the same shape.

#: Buffers that may be missing from a checkpoint without changing what the network computes.
OPTIONAL_SUFFIXES = ("num_batches_tracked",)


def _state_dict_of(obj: object, path: Path) -> Mapping[str, torch.Tensor]:
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        msg = (
            f"weights file {str(path)!r} must hold a state dict (a mapping from names to tensors); "
            f"got {type(obj).__name__}. Save it with torch.save(model.state_dict(), path)."
        )
        raise WeightsError(msg)
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def _read_checkpoint(path: Path) -> object:
    """The content of a ``.safetensors`` file (read from its bytes), or of a ``torch.load(weights_only=True)`` file."""
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load as load_safetensors

            return load_safetensors(path.read_bytes())
        except Exception as exc:
            msg = (
                f"weights file {str(path)!r} cannot be read as safetensors: {exc}. Save it with "
                "safetensors.torch.save_file(model.state_dict(), path)."
            )
            raise WeightsError(msg) from exc
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = (
            f"weights file {str(path)!r} cannot be read with torch.load(weights_only=True): {exc}. "
            "Save a plain state dict with torch.save(model.state_dict(), path), or a .safetensors file."
        )
        raise WeightsError(msg) from exc


def _model_keys(backbone: str) -> set[str]:
    import timm

    with torch.device("meta"):
        model = timm.create_model(backbone, pretrained=False)
    return set(model.state_dict())


def _examples(keys: list[str]) -> str:
    return ", ".join(repr(k) for k in keys[:3]) + (", ..." if len(keys) > 3 else "")


def load_backbone_weights(
    feature_net: torch.nn.Module, path: str | Path | None, *, backbone: str, seed: int = 0
) -> None:
    """Load the checkpoint at ``path`` into ``feature_net``, a timm feature network of ``backbone``.

    Args:
        feature_net: The network whose parameters and buffers are overwritten (any device).
        path: A local ``.safetensors`` file, or a ``.pt``/``.pth`` file read with ``torch.load(weights_only=True)``:
            a state dict of the whole classification model or of its feature part, possibly wrapped in
            ``{"state_dict": ...}`` or ``{"model": ...}`` and with ``module.`` prefixes (DataParallel); None loads
            the shared random init :func:`random_init_state` of ``(backbone, seed)``, the network every other
            method gets too.
        backbone: timm name of the architecture, for the key check and the messages.
        seed: The job's seed (random init only).

    Raises:
        FileNotFoundError: ``path`` is not a file.
        WeightsError: The file cannot be read, is not a state dict, or does not fit ``backbone``;
            the message names the file and the offending keys.

    Example:
        >>> import timm
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
    obj = _read_checkpoint(path)
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
