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

import torch

__all__ = ["RANDOM_WEIGHTS", "is_random", "random_init_state"]

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
