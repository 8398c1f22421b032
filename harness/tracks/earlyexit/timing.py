"""Wall-clock cost of every prefix of a multi-exit backbone, measured on the device at a fixed batch size.

How a time is measured (:func:`median_seconds`): the callables are first run ``n_warmup`` times each (caches,
allocator, one-off kernel selection), then ``n_repeats`` rounds are timed with ``time.perf_counter``, each
round calling every callable once, in an order rotated by one from round to round, so slow drifts of the
machine (clock, other load) fall on every callable alike; the result is the median over rounds of each
callable's time. PyTorch's intra-op threads are fixed with ``torch.set_num_threads(n_threads)`` for the
measurement and restored afterwards; on CUDA every call is followed by ``torch.cuda.synchronize()``.

What is measured (:func:`exit_seconds`): the per-image seconds of each prefix of
:mod:`harness.tracks.earlyexit.prefix` on a batch of ``batch_size`` images (time of the batch divided by
``batch_size``), under ``torch.inference_mode``: ``to_exit[k]`` (stem, stages up to exit ``k``, every head on
the way), ``single_exit[k]`` (head ``k`` only) and ``full`` (the whole backbone and its classifier). A caller
that needs one kind of prefix only (``paths``) saves the time of the other; its array is then NaN.

How a speed-up follows from it: the measured time of a policy is the sum over test samples of
``to_exit[exit of the sample]`` (the time of running the layers up to its exit, including the heads evaluated
on the way), and its speed-up is ``n_samples * full`` divided by that sum
(:func:`harness.metrics.early_exit.speedup` with ``exit_costs=to_exit`` and ``full_cost=full``). At batch size
1 this is exactly the latency each sample sees. At batch size B it is the throughput cost of batches of B
samples that all leave at the same exit: it models a server that regroups samples by exit into full batches.
A batch that shrinks as its samples leave at different exits is not modelled (its partial batches run at
lower efficiency), so at B > 1 the figure is an upper bound of what a naive batched implementation achieves.
The decision arithmetic of a rule (softmax, entropy, comparisons) is not timed; it is negligible next to a
transformer block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from harness.tracks.earlyexit.prefix import ExitNet, forward_full, forward_single_exit, forward_to_exit

__all__ = ["PATHS", "ExitSeconds", "exit_seconds", "median_seconds"]

#: The prefixes :func:`exit_seconds` can time besides the full model.
PATHS = ("to_exit", "single_exit")


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        minimum = 0 if name == "n_warmup" else 1
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            msg = f"{name} of the timing must be an int >= {minimum}; got {value!r}."
            raise ValueError(msg)


def median_seconds(
    fns: Sequence[Callable[[], Any]],
    *,
    n_warmup: int = 3,
    n_repeats: int = 15,
    n_threads: int = 1,
    synchronize: Callable[[], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> np.ndarray:
    """Median wall-clock seconds of one call of each callable, timed in interleaved rounds.

    Args:
        fns: Callables without arguments.
        n_warmup: Untimed calls of each callable first (>= 0).
        n_repeats: Timed rounds (>= 1); each calls every callable once, the order rotated by one per round.
        n_threads: ``torch.set_num_threads`` during the measurement (>= 1); the previous value is restored.
        synchronize: Called after each call, inside the timed span (``torch.cuda.synchronize`` on CUDA).
        clock: Nanoseconds of a monotonic clock (``time.perf_counter_ns``; tests pass a fake one).

    Returns:
        float64 array of shape (n_fns,), the median over rounds of each callable's seconds.

    Example:
        >>> median_seconds([lambda: sum(range(1000))], n_warmup=1, n_repeats=3).shape
        (1,)
    """
    _check_counts(n_warmup=n_warmup, n_repeats=n_repeats, n_threads=n_threads)
    if not fns:
        msg = "fns of median_seconds must hold at least one callable; got none."
        raise ValueError(msg)
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    times = np.empty((n_repeats, len(fns)), dtype=np.float64)
    try:
        for _ in range(n_warmup):
            for fn in fns:
                fn()
                if synchronize is not None:
                    synchronize()
        for r in range(n_repeats):
            for j in range(len(fns)):
                i = (j + r) % len(fns)
                start = clock()
                fns[i]()
                if synchronize is not None:
                    synchronize()
                times[r, i] = (clock() - start) * 1e-9
    finally:
        torch.set_num_threads(previous)
    return np.median(times, axis=0)


@dataclass(frozen=True)
class ExitSeconds:
    """Measured seconds per image of every prefix at one batch size.

    Attributes:
        to_exit: float64 array of shape (n_exits,), stem, stages up to exit ``k`` and every head ``0..k`` (NaN
            when not measured).
        single_exit: float64 array of shape (n_exits,), stem, stages up to exit ``k`` and head ``k`` only (NaN
            when not measured).
        full: The full backbone and its classifier, no intermediate head.
        batch_size: Images per timed call.
        n_threads: Intra-op threads during the measurement.
        device: The device the images were on (``"cpu"``, ``"cuda:0"``).
    """

    to_exit: np.ndarray
    single_exit: np.ndarray
    full: float
    batch_size: int
    n_threads: int
    device: str


def _batch(images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The first ``batch_size`` images, cycling through ``images`` when it holds fewer."""
    n_images = int(images.shape[0])
    if n_images < 1:
        msg = f"images of exit_seconds must hold at least one image; got shape {tuple(images.shape)}."
        raise ValueError(msg)
    return images[torch.arange(batch_size) % n_images].contiguous()


def exit_seconds(
    net: ExitNet,
    images: torch.Tensor,
    *,
    batch_size: int,
    n_warmup: int = 3,
    n_repeats: int = 15,
    n_threads: int = 1,
    paths: tuple[str, ...] = PATHS,
) -> ExitSeconds:
    """Measure the seconds per image of every prefix of ``net`` at ``batch_size``.

    Args:
        net: The model in pieces; every module must be in eval mode (``model.eval()``).
        images: float tensor of shape (n_images, 3, H, W), preprocessed, on the device to measure; the batch is
            its first ``batch_size`` images (cycled when it holds fewer).
        batch_size: Images per timed call (>= 1), e.g. 1 (latency) and the budget's batch size (throughput).
        n_warmup: Untimed calls of each prefix first.
        n_repeats: Timed rounds; the median is kept.
        n_threads: Intra-op threads (``torch.set_num_threads``) during the measurement.
        paths: The prefixes to time besides ``full``: ``"to_exit"``, ``"single_exit"`` or both; the array of a
            prefix left out is NaN.

    Returns:
        The per-image seconds (median batch time over ``batch_size``).

    Raises:
        ValueError: A module is in training mode (dropout would make the timing and the outputs random), a
            count is out of range, or ``paths`` names no known prefix.

    Example:
        >>> from torch import nn
        >>> net = ExitNet(nn.Flatten(), [nn.Linear(12, 12), nn.Linear(12, 12)], [nn.Linear(12, 2)] * 2)
        >>> _ = [m.eval() for m in net.modules()]
        >>> exit_seconds(net, torch.zeros(4, 3, 2, 2), batch_size=2, n_repeats=3).to_exit.shape
        (2,)
    """
    _check_counts(batch_size=batch_size)
    unknown = [p for p in paths if p not in PATHS]
    if unknown or not paths:
        msg = f"paths of exit_seconds must be a non-empty subset of {PATHS}; got {tuple(paths)!r}."
        raise ValueError(msg)
    training = [type(m).__name__ for m in net.modules() if any(sub.training for sub in m.modules())]
    if training:
        msg = (
            f"exit_seconds measures inference, but {', '.join(training)} of the ExitNet is in training mode; "
            "call .eval() on the model first."
        )
        raise ValueError(msg)
    batch = _batch(images, int(batch_size))
    device = str(batch.device)
    synchronize = torch.cuda.synchronize if batch.device.type == "cuda" else None
    k_all = range(net.n_exits)

    def _run(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
        def call() -> Any:
            with torch.inference_mode():
                return fn(net, batch, *args)

        return call

    prefixes = {"to_exit": forward_to_exit, "single_exit": forward_single_exit}
    chosen = [p for p in PATHS if p in paths]
    fns = [_run(prefixes[p], k) for p in chosen for k in k_all]
    fns.append(_run(forward_full))
    seconds = median_seconds(
        fns, n_warmup=n_warmup, n_repeats=n_repeats, n_threads=n_threads, synchronize=synchronize
    ) / int(batch_size)
    n_exits = net.n_exits
    by_path = {p: np.full(n_exits, np.nan) for p in PATHS}
    for i, p in enumerate(chosen):
        by_path[p] = seconds[i * n_exits : (i + 1) * n_exits]
    return ExitSeconds(
        to_exit=by_path["to_exit"],
        single_exit=by_path["single_exit"],
        full=float(seconds[-1]),
        batch_size=int(batch_size),
        n_threads=int(n_threads),
        device=device,
    )
