"""Model outputs to the raw arrays the anomaly track scores (no normalisation, no threshold)."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_arrays"]


def to_arrays(scores: list[torch.Tensor], maps: list[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate per-batch image scores and anomaly maps into numpy arrays.

    Args:
        scores: Per batch, a float tensor of shape (n_batch,) (a trailing axis of size 1 is dropped).
        maps: Per batch, a float tensor of shape (n_batch, 1, h, w) or (n_batch, h, w).

    Returns:
        ``(scores, maps)``: float64 array of shape (n_images,) and float32 array of shape
        (n_images, h, w), on the CPU, values exactly as the model produced them.

    Raises:
        ValueError: Scores and maps disagree in length, or a map has another rank.

    Example:
        >>> s, m = to_arrays([torch.ones(2)], [torch.zeros(2, 1, 4, 4)])
        >>> s.dtype, m.shape
        (dtype('float64'), (2, 4, 4))
    """
    score = torch.cat([s.detach().reshape(len(s), -1)[:, 0] for s in scores]).to("cpu", torch.float64)
    flat = []
    for amap in maps:
        amap = amap.detach()
        if amap.ndim == 4 and amap.shape[1] == 1:
            amap = amap[:, 0]
        if amap.ndim != 3:
            msg = f"anomaly maps must have shape (n, 1, h, w) or (n, h, w); got {tuple(amap.shape)}."
            raise ValueError(msg)
        flat.append(amap.to("cpu", torch.float32))
    out_maps = torch.cat(flat)
    if len(score) != len(out_maps):
        msg = f"model returned {len(score)} image scores but {len(out_maps)} anomaly maps."
        raise ValueError(msg)
    return score.numpy(), out_maps.numpy()
