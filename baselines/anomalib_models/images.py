"""uint8 RGB images to the normalised float batches anomalib's torch models take.

Images arrive from the track as one uint8 array of shape (n_images, S, S, 3). They are moved to
the device a batch at a time as uint8 (a quarter of the bytes of float32) and converted there:
NHWC to NCHW, [0, 255] to [0, 1], then normalised with the ImageNet mean and standard deviation
that anomalib's default pre-processor applies.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "check_images", "iter_batches", "step_batches", "to_model_input"]

#: Channel means and standard deviations of ImageNet, in RGB order (anomalib's default normalisation).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_images(images: np.ndarray, *, input_name: str, caller: str) -> np.ndarray:
    """Check that ``images`` is a non-empty uint8 array of shape (n_images, H, W, 3).

    Args:
        images: The array to check.
        input_name: Name of the argument, for the message.
        caller: Who received it, for the message.

    Returns:
        ``images`` unchanged.

    Raises:
        ValueError: The dtype, rank, channel count or length is wrong; the message quotes it.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        msg = (
            f"{input_name} of {caller} must be a non-empty uint8 array of shape (n_images, H, W, 3); "
            f"got {images.dtype} array of shape {images.shape}."
        )
        raise ValueError(msg)
    return images


def to_model_input(batch: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Convert a uint8 batch to the normalised float32 input of a backbone, on ``device``.

    Args:
        batch: uint8 array of shape (n_images, H, W, 3), RGB.
        device: Where the returned tensor lives.

    Returns:
        float32 tensor of shape (n_images, 3, H, W): ``(x / 255 - mean) / std`` per channel.

    Example:
        >>> to_model_input(np.zeros((2, 8, 8, 3), dtype=np.uint8), "cpu").shape
        torch.Size([2, 3, 8, 8])
    """
    data = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
    data = data.permute(0, 3, 1, 2).float().contiguous().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=data.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=data.device).view(1, 3, 1, 1)
    return data.sub_(mean).div_(std)


def iter_batches(images: np.ndarray, batch_size: int, device: torch.device | str) -> Iterator[torch.Tensor]:
    """Yield the images in order, ``batch_size`` at a time, as model inputs on ``device``.

    Args:
        images: uint8 array of shape (n_images, H, W, 3).
        batch_size: Images per batch; the last batch may be smaller.
        device: Where the batches live.

    Yields:
        float32 tensors of shape (n_batch, 3, H, W), see :func:`to_model_input`.
    """
    for start in range(0, len(images), batch_size):
        yield to_model_input(images[start : start + batch_size], device)


def step_batches(n_images: int, batch_size: int, n_steps: int, *, seed: int) -> Iterator[torch.Tensor]:
    """Indices of the training images of each optimizer step: shuffled epochs, no repeats in one.

    Each epoch is a fresh permutation drawn from a generator seeded with ``seed``; a step takes
    the next ``batch_size`` indices and the short tail of an epoch is dropped, unless the whole
    training set is smaller than one batch, in which case every step uses all images.

    Args:
        n_images: Number of training images.
        batch_size: Images per step.
        n_steps: Number of steps yielded.
        seed: Seed of the shuffling generator.

    Yields:
        int64 tensors of shape (min(batch_size, n_images),), on the CPU.

    Example:
        >>> [len(i) for i in step_batches(5, 2, 3, seed=0)]
        [2, 2, 2]
    """
    generator = torch.Generator().manual_seed(seed)
    size = min(batch_size, n_images)
    per_epoch = n_images // size
    done = 0
    while done < n_steps:
        order = torch.randperm(n_images, generator=generator)
        for index in range(min(per_epoch, n_steps - done)):
            yield order[index * size : (index + 1) * size]
        done += min(per_epoch, n_steps - done)
