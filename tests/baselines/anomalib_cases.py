"""Shared cases of the tests of the anomalib-backed baselines: tiny random images, budget and context."""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np
import torch

from harness.api import Context, Method, Predictions
from harness.tracks.anomaly import AnomalyBudget, AnomalyImages

#: Seed of every test.
SEED = 0
#: Side of the tiny images, training images and test images.
SIZE, N_TRAIN, N_TEST = 32, 8, 4
#: The budget of every test: tiny images, two optimizer steps.
TINY = {"image_size": SIZE, "batch_size": 4, "max_steps": 2, "backbone": "resnet18", "layers": ("layer2", "layer3")}


def tiny_images(n_images: int, *, seed: int) -> AnomalyImages:
    """Random uint8 RGB images of shape (n_images, SIZE, SIZE, 3)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_images, SIZE, SIZE, 3), dtype=np.uint8)
    return AnomalyImages(images, [f"{i:03d}.png" for i in range(n_images)])


def tiny_budget(**overrides: Any) -> AnomalyBudget:
    """The tiny test budget, with field overrides."""
    return AnomalyBudget(**{**TINY, **overrides})


def context(*, seed: int = SEED, device: str = "cpu") -> Context:
    """A job context with one thread (the tests run beside others on two cores)."""
    return Context(seed=seed, device=device, n_threads=1, log=logging.getLogger("test"))


def fit_predict(
    method_cls: type[Method], *, seed: int = SEED, device: str = "cpu", config: dict | None = None, **budget: Any
) -> tuple[Method, Predictions]:
    """Fit on 8 tiny training images, predict 4 tiny test images; return the method and its predictions."""
    method = method_cls(method_cls.make_config(config))
    method.fit(tiny_images(N_TRAIN, seed=1), tiny_budget(**budget), context(seed=seed, device=device))
    return method, method.predict(tiny_images(N_TEST, seed=2))


def assert_valid(predictions: Predictions) -> None:
    """Scores float64 (N_TEST,), maps float32 (N_TEST, SIZE, SIZE), all finite."""
    scores, maps = predictions["scores"], predictions["maps"]
    assert scores.dtype == np.float64 and scores.shape == (N_TEST,), (scores.dtype, scores.shape)
    assert maps.dtype == np.float32 and maps.shape == (N_TEST, SIZE, SIZE), (maps.dtype, maps.shape)
    assert np.isfinite(scores).all() and np.isfinite(maps).all()


def assert_same(a: Predictions, b: Predictions) -> None:
    """Bit-identical scores and maps."""
    np.testing.assert_array_equal(a["scores"], b["scores"])
    np.testing.assert_array_equal(a["maps"], b["maps"])


def foreign_checkpoint(path: Any) -> str:
    """Write a state dict that is not a resnet18 (a conv of the wrong shape plus a foreign key)."""
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3), "not_a_layer.weight": torch.zeros(2)}, path)
    return str(path)


CUDA = torch.cuda.is_available()


@functools.lru_cache(maxsize=2)
def resnet18_state(seed: int = 123) -> dict[str, torch.Tensor]:
    """The full state dict of a freshly initialised timm resnet18 (classifier included), built once per seed."""
    import timm

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    state = timm.create_model("resnet18", pretrained=False).state_dict()
    torch.random.set_rng_state(generator_state)
    return state


def resnet18_checkpoint(path: Any, *, seed: int = 123) -> tuple[str, dict[str, torch.Tensor]]:
    """Write :func:`resnet18_state` to ``path``; return the path and the state dict."""
    state = resnet18_state(seed)
    torch.save(state, path)
    return str(path), state


def assert_loaded(backbone: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Every parameter and buffer of the feature network equals the checkpoint's."""
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value.cpu(), state[key], msg=f"{key} was not loaded")
