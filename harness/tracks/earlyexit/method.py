"""The base class of the track's methods: they train exits on the shared backbone; the harness measures them.

A method implements :meth:`EarlyExitMethod.fit_exits` only: from the training data (images, labels, the
validation part and the trained backbone of its seed) it builds and trains its exits and returns its model as
an :class:`~harness.tracks.earlyexit.prefix.ExitNet` (:func:`~harness.tracks.earlyexit.backbone.make_exit_net`)
with the block after which each exit sits. It declares its exit rule (:attr:`EarlyExitMethod.rule`, one of
:data:`~harness.tracks.earlyexit.grids.RULES`) and which prefix a sample leaving early runs
(:attr:`EarlyExitMethod.cost_path`).

``predict`` is the harness's (methods do not override it): it runs the model once over the test images for the
logits of every exit (and the scores of a learned policy), applies the rule at every threshold of the track's
grid, and measures the model's FLOPs and wall-clock time (:mod:`harness.tracks.earlyexit.measure`). The track
then recomputes the exits from the logits and scores, and computes every metric in the runner's process.

Helpers for :meth:`~EarlyExitMethod.fit_exits`: :meth:`~EarlyExitMethod.batches` (augmented training batches of
the budget's size), :meth:`~EarlyExitMethod.train` (the budget's optimiser loop), :func:`weighted_exit_loss`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from harness.api import Budget, Context, Method, Predictions
from harness.tracks.earlyexit.backbone import LABEL_SMOOTHING
from harness.tracks.earlyexit.grids import rule_code, sweep_exits, threshold_grid
from harness.tracks.earlyexit.measure import collect_exit_outputs, measure_costs
from harness.tracks.earlyexit.prefix import ExitNet
from harness.tracks.earlyexit.training import ImageBatches, train_steps

__all__ = ["COST_PATHS", "EarlyExitMethod", "exit_cross_entropy", "weighted_exit_loss"]

#: What a sample leaving at exit k pays: every head up to k, or head k only (a statically truncated backbone).
COST_PATHS = ("to_exit", "single_exit")


def exit_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy with the track's label smoothing (that of the backbone's own training)."""
    return F.cross_entropy(logits, labels, label_smoothing=LABEL_SMOOTHING)


def weighted_exit_loss(
    exit_logits: Sequence[torch.Tensor], labels: torch.Tensor, weights: Sequence[float]
) -> torch.Tensor:
    """Weighted mean of the exits' cross-entropies, ``sum_k w_k CE_k / sum_k w_k`` (PABEE's weighted average).

    Args:
        exit_logits: One float tensor of shape (n, n_classes) per exit.
        labels: int64 tensor of shape (n,).
        weights: One weight per exit (PABEE: the exit's depth).
    """
    total = sum(float(w) * exit_cross_entropy(logits, labels) for w, logits in zip(weights, exit_logits, strict=True))
    return total / float(sum(weights))


class EarlyExitMethod(Method):
    """An early-exit method on the shared backbone (see the module docstring for the contract)."""

    track = "earlyexit"
    #: The exit rule the track sweeps (one of :data:`~harness.tracks.earlyexit.grids.RULES`).
    rule: ClassVar[str] = "confidence"
    #: The prefix a sample leaving at an exit runs (one of :data:`COST_PATHS`).
    cost_path: ClassVar[str] = "to_exit"

    # --- what a method implements -------------------------------------------------------------------------------

    @abstractmethod
    def fit_exits(self, train: Any) -> tuple[ExitNet, list[int]]:
        """Build and train the exits on ``train`` (an :class:`~harness.tracks.earlyexit.track.EarlyExitTrain`).

        Returns:
            The model in pieces (its last exit the backbone's classifier) and the 1-based block after which each
            exit sits.
        """

    @property
    def patience(self) -> int:
        """Consecutive exits of the ``patience_confidence`` rule (the config's ``patience`` where it has one)."""
        return int(getattr(self.config, "patience", 2))

    # --- helpers for fit_exits ----------------------------------------------------------------------------------

    def new_backbone(self, train: Any) -> nn.Module:
        """A fresh copy of the trained shared backbone on the job's device, in training mode."""
        return train.backbone.build(self.device_)

    def batches(self, train: Any, *, stream: int = 0) -> ImageBatches:
        """Endless augmented batches of the training images (``stream`` seeds an independent order)."""
        return ImageBatches(
            train.images, train.labels, batch_size=self.budget_.batch_size, image_size=self.image_size_,
            augment=self.budget_.augment, seed=self.seed_ * 1000 + 17 + int(stream), device=self.device_,
        )

    def train(
        self, groups: Sequence[tuple[Iterable[nn.Parameter], float]],
        loss_fn: Callable[[int, torch.Tensor, torch.Tensor], torch.Tensor],
        batches: Iterable[tuple[torch.Tensor, torch.Tensor]], *, name: str, n_steps: int | None = None,
    ) -> list[float]:
        """Run one training stage: the budget's ``head_steps`` AdamW steps (warm-up, cosine) over ``groups``.

        Args:
            groups: (parameters, peak learning rate) pairs, e.g. ``[(heads, budget.head_learning_rate),
                (backbone, budget.finetune_learning_rate)]``.
            loss_fn: ``loss_fn(step, x, y)`` -> scalar loss of one batch.
            batches: E.g. :meth:`batches`.
            name: The stage, for the log.
            n_steps: Steps, when not ``head_steps``.
        """
        steps = self.budget_.head_steps if n_steps is None else int(n_steps)
        return train_steps(groups, loss_fn, batches, n_steps=steps, weight_decay=self.budget_.weight_decay,
                           log=self.log_, name=name)

    # --- the harness's part -------------------------------------------------------------------------------------

    def fit(self, train: Any, budget: Budget, ctx: Context) -> None:
        """Set up the job (device, threads, seed), then train the exits with :meth:`fit_exits`."""
        rule_code(self.rule)
        if self.cost_path not in COST_PATHS:
            msg = f"cost_path of {type(self).__name__} must be one of {COST_PATHS}; got {self.cost_path!r}."
            raise ValueError(msg)
        self.device_ = torch.device(ctx.device)
        self.n_threads_ = max(1, int(ctx.n_threads))
        torch.set_num_threads(self.n_threads_)
        self.seed_ = int(ctx.seed)
        self.budget_ = budget
        self.log_ = ctx.log
        self.n_classes_ = len(train.class_names)
        self.image_size_ = int(train.backbone.spec.image_size)
        torch.manual_seed(self.seed_)
        net, depths = self.fit_exits(train)
        for module in net.modules():
            module.eval()
        self.net_, self.exit_depths_ = net, [int(d) for d in depths]

    def exit_layers(
        self, exit_logits: np.ndarray, exit_scores: np.ndarray | None, thresholds: np.ndarray
    ) -> np.ndarray:
        """The exits of every test sample at every threshold: the rule of :attr:`rule` (int64 (n_thr, n))."""
        return sweep_exits(self.rule, exit_logits, thresholds, patience=self.patience, exit_scores=exit_scores)

    def predict(self, inputs: Any) -> Predictions:
        """Outputs of every exit, exits at every threshold of the track's grid, and the measured costs."""
        if not hasattr(self, "net_"):
            msg = f"{type(self).__name__}.predict was called before fit."
            raise RuntimeError(msg)
        budget = self.budget_
        exit_logits, exit_scores = collect_exit_outputs(
            self.net_, inputs.images, batch_size=budget.batch_size, image_size=self.image_size_, device=self.device_
        )
        thresholds = threshold_grid(self.rule, n_exits=self.net_.n_exits, n_classes=self.n_classes_)
        layers = self.exit_layers(exit_logits, exit_scores, thresholds)
        costs = measure_costs(
            self.net_, inputs.images, path=self.cost_path, image_size=self.image_size_, batch_size=budget.batch_size,
            n_threads=budget.timing_threads, n_warmup=budget.timing_warmup, n_repeats=budget.timing_repeats,
            device=self.device_,
        )
        arrays = {
            "exit_logits": exit_logits,
            "exit_layers": layers,
            "thresholds": thresholds,
            "rule": np.array([rule_code(self.rule)], dtype=np.int64),
            "patience": np.array([self.patience], dtype=np.int64),
            "exit_depths": np.asarray(self.exit_depths_, dtype=np.int64),
            **costs,
        }
        if exit_scores is not None:
            arrays["exit_scores"] = exit_scores
        return Predictions.of(**arrays)
