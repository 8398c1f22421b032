"""Learning-rate schedules of the LM's training, as pure functions of the step (no optimiser state).

- ``"wsa"``: Warmup-Stable-Annealing (CPRec): linear warmup to the peak over the first ``warmup_frac`` of the
  steps, the peak held (stable), then a linear anneal to ``min_lr_frac * peak`` over the last ``anneal_frac``.
- ``"cosine"``: the same warmup, then a half cosine from the peak to ``min_lr_frac * peak`` over every remaining
  step (the usual pre-training schedule; the ablation of WSA at the same token budget).
- ``"constant"``: the same warmup, then the peak to the end (warmup-stable, no anneal).

With ``W = round(warmup_frac * n)`` warmup steps and ``A = round(anneal_frac * n)`` anneal steps of ``n`` steps
(step ``t`` counts from 0): warmup ``lr(t) = peak * (t + 1) / W`` for ``t < W``; WSA ``lr(t) = peak`` for
``W <= t < n - A`` and ``lr(t) = peak * (1 - (1 - m) * (t - (n - A) + 1) / A)`` for ``t >= n - A`` (``m`` is
``min_lr_frac``; the last step gets ``m * peak``); cosine ``lr(t) = peak * (m + (1 - m) * (1 + cos(pi * u)) / 2)``
with ``u = (t - W + 1) / (n - W)``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SCHEDULES", "learning_rates"]

#: Names of the schedules.
SCHEDULES = ("wsa", "cosine", "constant")


def learning_rates(n_steps: int, peak: float, *, schedule: str = "wsa", warmup_frac: float = 0.05,
                   anneal_frac: float = 0.1, min_lr_frac: float = 0.1) -> np.ndarray:
    """The learning rate of every step (see the module docstring for the formulas).

    Args:
        n_steps: Optimiser steps.
        peak: Peak learning rate.
        schedule: One of :data:`SCHEDULES`.
        warmup_frac: Share of the steps in the linear warmup.
        anneal_frac: Share of the steps in WSA's anneal (ignored by the other schedules).
        min_lr_frac: Final learning rate as a share of the peak (WSA and cosine).

    Returns:
        float64 array of shape (n_steps,).

    Raises:
        ValueError: ``schedule`` is unknown, or warmup and anneal together exceed the steps.

    Example:
        >>> learning_rates(10, 1.0, warmup_frac=0.2, anneal_frac=0.2, min_lr_frac=0.0).tolist()
        [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    if schedule not in SCHEDULES:
        msg = f"schedule must be one of {', '.join(SCHEDULES)}; got {schedule!r}."
        raise ValueError(msg)
    if warmup_frac + anneal_frac > 1:
        msg = f"warmup_frac + anneal_frac must be <= 1; got {warmup_frac} + {anneal_frac}."
        raise ValueError(msg)
    n_warm = round(warmup_frac * n_steps)
    n_anneal = round(anneal_frac * n_steps) if schedule == "wsa" else 0
    lrs = np.full(n_steps, float(peak))
    steps = np.arange(n_steps, dtype=np.float64)
    if n_warm:
        lrs[:n_warm] = peak * (steps[:n_warm] + 1) / n_warm
    if schedule == "wsa" and n_anneal:
        start = n_steps - n_anneal
        frac = (steps[start:] - start + 1) / n_anneal
        lrs[start:] = peak * (1 - (1 - min_lr_frac) * frac)
    elif schedule == "cosine" and n_steps > n_warm:
        u = (steps[n_warm:] - n_warm + 1) / (n_steps - n_warm)
        lrs[n_warm:] = peak * (min_lr_frac + (1 - min_lr_frac) * (1 + np.cos(math.pi * u)) / 2)
    return lrs
