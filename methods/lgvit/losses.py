"""LGViT's training losses (pure torch; no harness imports).

Stage 1, :func:`alternating_weighted_loss` (the public code's ``alternating_weighted`` strategy): even steps the
final classifier's cross-entropy alone, odd steps the weighted mean of every exit's cross-entropy, exit ``k``
weighted by its depth and the final classifier by the backbone's depth.

Stage 2, :func:`self_distillation_loss` (``distillation_LGViT``; backbone frozen, the final classifier the
teacher):

- prediction distillation: ``(1 - alpha) * sum_k CE_k + alpha * sum_k KD_k``, ``KD_k`` the KL divergence from the
  teacher's to exit ``k``'s softened distribution at temperature ``T``, times ``T**2`` (batch mean);
- heterogeneous distillation, fusing the global view into the local heads and the local view into the global
  heads: the first and last head of each kind (local, global) against the backbone's last patch tokens
  (subsampled like a global head's features), a KL divergence between softmaxes over the channels
  (:func:`heterogeneous_loss`);
- homogeneous distillation: every head of a kind against the deepest head of that kind, the mean squared error of
  the features (local) or of their channel Gram matrices ``F^T F`` (global, whose heads keep different numbers of
  tokens) (:func:`homogeneous_loss`);

``loss = prediction + beta_hete * sum(heterogeneous) + beta_homo * sum(homogeneous)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F  # noqa: N812

__all__ = [
    "alternating_weighted_loss",
    "distillation_kl",
    "heterogeneous_loss",
    "homogeneous_loss",
    "self_distillation_loss",
]


def alternating_weighted_loss(
    step: int, exit_losses: Sequence[torch.Tensor], final_loss: torch.Tensor, depths: Sequence[int], depth: int
) -> torch.Tensor:
    """Stage 1's loss at ``step``: the final loss (even steps) or the depth-weighted mean of all (odd steps).

    Example:
        >>> one = torch.tensor(1.0)
        >>> float(alternating_weighted_loss(1, [one * 2], one, [2], 4))  # (2 * 2 + 4 * 1) / (2 + 4)
        1.3333333730697632
    """
    if step % 2 == 0:
        return final_loss
    total = sum(float(d) * loss for d, loss in zip(depths, exit_losses, strict=True)) + float(depth) * final_loss
    return total / float(sum(depths) + depth)


def distillation_kl(student: torch.Tensor, teacher: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """Soft-target distillation: ``T**2 KL(softmax(teacher / T) || softmax(student / T))``, batch mean.

    Args:
        student: float tensor of shape (n, n_classes), logits.
        teacher: float tensor of shape (n, n_classes), logits (no gradient flows into them).
        temperature: ``T``.
    """
    t = float(temperature)
    log_student = F.log_softmax(student / t, dim=1)
    log_teacher = F.log_softmax(teacher.detach() / t, dim=1)
    return F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True) * t * t


def heterogeneous_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL divergence between softmaxes over the channels of two token sequences (n, n_tokens, dim), batch mean."""
    return F.kl_div(F.log_softmax(features, dim=-1), F.log_softmax(target, dim=-1), reduction="batchmean",
                    log_target=True)


def homogeneous_loss(features: torch.Tensor, teacher: torch.Tensor, *, gram: bool) -> torch.Tensor:
    """Mean squared error of features (n, n_tokens, dim), or of their Gram matrices (n, dim, dim) with ``gram``."""
    if gram:
        features = features.transpose(-1, -2) @ features
        teacher = teacher.transpose(-1, -2) @ teacher
    return F.mse_loss(features, teacher)


def self_distillation_loss(
    kinds: Sequence[str],
    features: Sequence[torch.Tensor],
    logits: Sequence[torch.Tensor],
    teacher_logits: torch.Tensor,
    last_patches: torch.Tensor,
    labels: torch.Tensor,
    *,
    cross_entropy: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    subsample: Callable[[torch.Tensor, int], torch.Tensor],
    strides: Sequence[int],
    alpha: float,
    temperature: float,
    beta_hete: float,
    beta_homo: float,
) -> torch.Tensor:
    """Stage 2's loss of one batch (see the module docstring).

    Args:
        kinds: Kind of each exit head (``"local_..."`` or ``"global_..."``), shallow to deep.
        features: Each head's features, float (n, n_tokens_k, dim).
        logits: Each head's logits, float (n, n_classes).
        teacher_logits: The final classifier's logits, float (n, n_classes).
        last_patches: The last block's patch tokens, float (n, h * w, dim).
        labels: int64 tensor of shape (n,).
        cross_entropy: The classification loss.
        subsample: ``subsample(tokens, stride)``: the patch grid subsampled as a global head does.
        strides: Each head's subsampling of the grid (1 for local heads).
        alpha: Weight of the soft targets against the labels.
        temperature: Softening of the distillation.
        beta_hete: Weight of the heterogeneous losses.
        beta_homo: Weight of the homogeneous losses.
    """
    loss = sum((1 - alpha) * cross_entropy(z, labels) + alpha * distillation_kl(z, teacher_logits,
                                                                                temperature=temperature)
               for z in logits)
    target = last_patches.detach()
    for group in ("local", "global"):
        members = [k for k, kind in enumerate(kinds) if kind.startswith(group)]
        if not members:
            continue
        for k in sorted({members[0], members[-1]}):
            aligned = subsample(target, strides[k]) if strides[k] > 1 else target
            loss = loss + beta_hete * heterogeneous_loss(features[k], aligned)
        for k in members[:-1]:
            loss = loss + beta_homo * homogeneous_loss(features[k], features[members[-1]], gram=group == "global")
    return loss
