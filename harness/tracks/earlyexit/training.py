"""What every training run of the early-exit track shares: input pipeline, augmentation and the optimiser loop.

- :func:`preprocess`: uint8 images to the network's input (float, ImageNet mean and standard deviation, resized
  to the budget's ``image_size`` on the device, so a 32 px CIFAR image becomes a 224 px input under the paper
  budget without a 224 px copy of the dataset in memory).
- :class:`ImageBatches`: a seeded, endless stream of training batches with the standard CIFAR augmentation
  (random crop of the image padded by 4 pixels by reflection, horizontal flip), drawn without replacement
  epoch by epoch.
- :func:`train_steps`: AdamW with linear warm-up and cosine decay over a fixed number of steps; the shared
  backbone, every method's heads and LGViT's two stages all train through it, so a budget's step counts mean
  the same thing everywhere.
- :func:`predict_batches`: a function of images run batch by batch under ``torch.inference_mode``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ImageBatches", "predict_batches", "preprocess", "train_steps"]

#: Channel means and standard deviations every input is normalised with (those of timm's ViT and DeiT weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Pixels of reflection padding before the random crop.
CROP_PADDING = 4


def preprocess(images: np.ndarray | torch.Tensor, *, image_size: int, device: torch.device | str) -> torch.Tensor:
    """Network input of a batch of images.

    Args:
        images: uint8 array or tensor of shape (n_images, H, W, 3), RGB.
        image_size: Side of the network's square input; images of another side are resized (bilinear,
            antialiased when shrinking).
        device: Where the input goes.

    Returns:
        float32 tensor of shape (n_images, 3, image_size, image_size), normalised per channel.

    Example:
        >>> preprocess(np.zeros((2, 32, 32, 3), np.uint8), image_size=48, device="cpu").shape
        torch.Size([2, 3, 48, 48])
    """
    batch = torch.as_tensor(np.ascontiguousarray(images) if isinstance(images, np.ndarray) else images)
    if batch.ndim != 4 or batch.shape[-1] != 3 or batch.dtype != torch.uint8:
        msg = (
            f"images of preprocess must be uint8 of shape (n_images, H, W, 3); got {batch.dtype} "
            f"{tuple(batch.shape)}."
        )
        raise ValueError(msg)
    x = batch.to(device).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-2:] != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > image_size)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def _augment(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random crop after reflection padding, and a horizontal flip for half the images: uint8 (n, H, W, 3)."""
    n, height, width, _ = images.shape
    pad = CROP_PADDING
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    dy = rng.integers(0, 2 * pad + 1, size=n)
    dx = rng.integers(0, 2 * pad + 1, size=n)
    out = np.empty_like(images)
    for i in range(n):
        out[i] = padded[i, dy[i] : dy[i] + height, dx[i] : dx[i] + width]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out


class ImageBatches:
    """An endless, seeded stream of training batches (each epoch a fresh permutation of the images).

    Args:
        images: uint8 array of shape (n_images, H, W, 3).
        labels: int array of shape (n_images,).
        batch_size: Images per batch (the last batch of an epoch is dropped when it is smaller, unless the
            epoch holds a single batch).
        image_size: Side of the network's input (see :func:`preprocess`).
        augment: Random crop and flip.
        seed: Seed of the order and of the augmentation.
        device: Where the batches go.

    Example:
        >>> batches = ImageBatches(np.zeros((10, 8, 8, 3), np.uint8), np.arange(10), batch_size=4, image_size=8,
        ...                        augment=True, seed=0, device="cpu")
        >>> x, y = next(iter(batches))
        >>> tuple(x.shape), tuple(y.shape)
        ((4, 3, 8, 8), (4,))
    """

    def __init__(
        self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, image_size: int, augment: bool, seed: int,
        device: torch.device | str,
    ) -> None:
        if len(images) != len(labels) or len(images) == 0:
            msg = f"ImageBatches needs one label per image and at least one image; got {len(images)} images and " \
                  f"{len(labels)} labels."
            raise ValueError(msg)
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.batch_size = int(min(batch_size, len(images)))
        self.image_size = int(image_size)
        self.augment = bool(augment)
        self.seed = int(seed)
        self.device = device

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng([self.seed, 7])
        n = len(self.images)
        while True:
            order = rng.permutation(n)
            for start in range(0, n - self.batch_size + 1, self.batch_size):
                rows = np.sort(order[start : start + self.batch_size])
                batch = self.images[rows]
                if self.augment:
                    batch = _augment(batch, rng)
                x = preprocess(batch, image_size=self.image_size, device=self.device)
                yield x, torch.from_numpy(self.labels[rows]).to(self.device)


def _learning_rate(step: int, n_steps: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, n_steps - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def train_steps(
    groups: Sequence[tuple[Iterable[torch.nn.Parameter], float]],
    loss_fn: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    n_steps: int,
    weight_decay: float = 0.05,
    warmup_share: float = 0.1,
    log: Any = None,
    name: str = "training",
) -> list[float]:
    """Run ``n_steps`` AdamW steps on ``loss_fn``, with linear warm-up and cosine decay of the learning rates.

    Args:
        groups: (parameters, peak learning rate) of each parameter group, e.g. new exit heads at a higher rate
            than the backbone they sit on (parameters without a gradient are skipped).
        loss_fn: ``loss_fn(step, x, y)`` -> scalar loss tensor of one batch (``step`` lets a loss alternate, as
            BERxiT's and LGViT's stage 1 do).
        batches: Endless iterable of (inputs, labels), e.g. an :class:`ImageBatches`.
        n_steps: Optimiser steps (>= 0; 0 trains nothing).
        weight_decay: AdamW's decoupled weight decay.
        warmup_share: Share of the steps of linear warm-up.
        log: A logger; the mean loss is logged ten times over the run.
        name: What is trained, for the log.

    Returns:
        The loss of every step (Python floats).
    """
    param_groups = []
    for params, rate in groups:
        kept = [p for p in params if p.requires_grad]
        if kept:
            param_groups.append({"params": kept, "peak_lr": float(rate), "lr": float(rate)})
    if n_steps <= 0 or not param_groups:
        return []
    optimizer = torch.optim.AdamW(param_groups, weight_decay=weight_decay)
    warmup = max(1, int(warmup_share * n_steps))
    losses: list[float] = []
    every = max(1, n_steps // 10)
    for step, (x, y) in zip(range(n_steps), batches, strict=False):
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, n_steps, group["peak_lr"], warmup)
        loss = loss_fn(step, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if log is not None and ((step + 1) % every == 0 or step + 1 == n_steps):
            log.info("%s step %d/%d: loss %.4f", name, step + 1, n_steps, float(np.mean(losses[-every:])))
    return losses


def predict_batches(
    fn: Callable[[torch.Tensor], Any], images: np.ndarray, *, batch_size: int, image_size: int,
    device: torch.device | str,
) -> list[Any]:
    """``fn`` of every batch of ``images`` (preprocessed) under ``torch.inference_mode``, in order.

    Args:
        fn: Maps an input batch, float tensor (B, 3, S, S), to anything (moved to the CPU by the caller).
        images: uint8 array of shape (n_images, H, W, 3).
        batch_size: Images per batch.
        image_size: Side of the network's input.
        device: Where the batches run.

    Returns:
        One output per batch.
    """
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            x = preprocess(images[start : start + batch_size], image_size=image_size, device=device)
            outputs.append(fn(x))
    return outputs
