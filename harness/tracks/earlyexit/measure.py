"""What the harness measures inside a job, on the method's own model: every exit's outputs, FLOPs and wall-clock.

:class:`~harness.tracks.earlyexit.method.EarlyExitMethod` calls these in its ``predict`` (methods do not
override it), so every method is measured by the same code:

- :func:`collect_exit_outputs`: the logits of every exit for every test image (and the exit scores of a
  learned exit policy), from one pass through the :class:`~harness.tracks.earlyexit.prefix.ExitNet`.
- :func:`measure_costs`: FLOPs per image of every exit (:func:`~harness.tracks.earlyexit.flops.exit_flops`,
  on one image) and measured seconds per image (:func:`~harness.tracks.earlyexit.timing.exit_seconds`) at
  batch size 1 and at the budget's batch size, for the prefix a sample leaving at each exit runs
  (``to_exit``: every head on the way, for rules that read every exit; ``single_exit``: its own head only, for a
  statically truncated backbone), and of the full backbone with its classifier. Timing uses the budget's
  threads, warm-up calls and repeats (median of interleaved rounds).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.tracks.earlyexit.flops import exit_flops
from harness.tracks.earlyexit.prefix import ExitNet
from harness.tracks.earlyexit.timing import exit_seconds
from harness.tracks.earlyexit.training import predict_batches, preprocess

__all__ = ["TIMINGS", "collect_exit_outputs", "measure_costs"]

#: Measured timings: name -> what sets its batch size (``1``, or the budget's ``batch_size``).
TIMINGS = ("bs1", "batch")


def _split_output(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(output, tuple):
        return output[0], output[1]
    return output, None


def collect_exit_outputs(
    net: ExitNet, images: np.ndarray, *, batch_size: int, image_size: int, device: torch.device | str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Logits (and exit scores) of every exit for every image, from one pass per batch.

    Args:
        net: The method's model in pieces, in eval mode; a head returns logits, or ``(logits, exit_score)``.
        images: uint8 array of shape (n_images, H, W, 3).
        batch_size: Images per batch.
        image_size: Side of the network's input.
        device: Where the model is.

    Returns:
        ``exit_logits``, float32 array of shape (n_exits, n_images, n_classes), and ``exit_scores``, float32 array
        of shape (n_exits, n_images) (the last exit's score is 1: every sample may leave there), or None when no
        head returns a score.
    """

    def run(x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        tokens = net.stem(x)
        logits, scores = [], []
        for stage, head in zip(net.stages, net.heads, strict=True):
            tokens = stage(tokens)
            out, score = _split_output(head(tokens))
            logits.append(out.float().cpu())
            scores.append(None if score is None else score.float().reshape(-1).cpu())
        return logits, scores

    outputs = predict_batches(run, images, batch_size=batch_size, image_size=image_size, device=device)
    n_exits = net.n_exits
    exit_logits = np.stack([torch.cat([o[0][k] for o in outputs]).numpy() for k in range(n_exits)])
    has_score = any(s is not None for o in outputs for s in o[1])
    if not has_score:
        return exit_logits.astype(np.float32), None
    exit_scores = np.ones(exit_logits.shape[:2], dtype=np.float32)
    for k in range(n_exits):
        if outputs[0][1][k] is not None:
            exit_scores[k] = torch.cat([o[1][k] for o in outputs]).numpy()
    return exit_logits.astype(np.float32), exit_scores


def measure_costs(
    net: ExitNet,
    images: np.ndarray,
    *,
    path: str,
    image_size: int,
    batch_size: int,
    n_threads: int,
    n_warmup: int,
    n_repeats: int,
    device: torch.device | str,
) -> dict[str, np.ndarray]:
    """FLOPs and measured seconds per image of leaving at each exit, and of the full model.

    Args:
        net: The method's model in pieces, every module in eval mode.
        images: uint8 array of shape (n_images, H, W, 3), e.g. the test images (costs do not depend on the
            pixels; a batch larger than ``n_images`` cycles through them).
        path: ``"to_exit"`` (every head up to the exit is paid) or ``"single_exit"`` (the exit's head only).
        image_size: Side of the network's input.
        batch_size: The budget's batch size, the second timing.
        n_threads: Intra-op threads during timing.
        n_warmup: Untimed calls of each prefix first.
        n_repeats: Timed rounds (median kept).
        device: Where the model is.

    Returns:
        ``flops_exit`` and ``seconds_exit_<timing>`` (float64 arrays of shape (n_exits,)), ``flops_full`` and
        ``seconds_full_<timing>`` (float64 arrays of shape (1,)) for each timing of :data:`TIMINGS`, and
        ``timing_batch_sizes`` (int64 array of shape (2,)).
    """
    n_take = min(len(images), int(batch_size))
    inputs = preprocess(images[:n_take], image_size=image_size, device=device)
    flops = exit_flops(net, inputs[:1])
    out = {
        "flops_exit": np.asarray(getattr(flops, path), dtype=np.float64),
        "flops_full": np.array([flops.full], dtype=np.float64),
    }
    for name, size in zip(TIMINGS, (1, int(batch_size)), strict=True):
        seconds = exit_seconds(net, inputs, batch_size=size, n_warmup=n_warmup, n_repeats=n_repeats,
                               n_threads=n_threads, paths=(path,))
        out[f"seconds_exit_{name}"] = np.asarray(getattr(seconds, path), dtype=np.float64)
        out[f"seconds_full_{name}"] = np.array([seconds.full], dtype=np.float64)
    out["timing_batch_sizes"] = np.array([1, int(batch_size)], dtype=np.int64)
    return out
