"""The exit rules a method may declare and the threshold grid the track sweeps for each.

The track, not the method, fixes the operating points: every method with the same rule is swept over the same
thresholds, from "every sample leaves at the first exit" to "every sample runs the whole backbone". A method
declares its rule (:data:`RULES`); :func:`threshold_grid` gives the grid, and :func:`sweep_exits` applies a
rule of :mod:`harness.tracks.earlyexit.exit_rules` at every threshold. The track recomputes the exits of every
rule from the returned logits (and, for ``policy``, the returned exit scores) and refuses predictions whose
exits disagree:

==========================  =====================================================  ==============================
rule                        exits where                                            thresholds swept
==========================  =====================================================  ==============================
``confidence``              max softmax probability > t                            :data:`CONFIDENCE_GRID`
``entropy``                 softmax entropy < t * log(n_classes)                   :data:`ENTROPY_SHARES` (of log C)
``patience``                ``t`` consecutive exits agree (PABEE)                  1 .. n_exits
``patience_confidence``     ``patience`` consecutive exits have entropy < t (PCEE) :data:`ENTROPY_SHARES` (of log C)
``policy``                  the learned exit score of the exit > t (BERxiT)        :data:`CONFIDENCE_GRID`
``static``                  every sample at exit ``t`` (truncated backbone)        0 .. n_exits - 1
==========================  =====================================================  ==============================
"""

from __future__ import annotations

import numpy as np

from harness.tracks.earlyexit.exit_rules import (
    confidence_exit,
    entropy_exit,
    patience_confidence_exit,
    patience_exit,
)

__all__ = [
    "CLOSED_FORM_RULES",
    "CONFIDENCE_GRID",
    "ENTROPY_SHARES",
    "RULES",
    "rule_code",
    "score_exit",
    "sweep_exits",
    "threshold_grid",
]

#: Every rule a method may declare; the index of a rule is its code in the predictions.
RULES = ("confidence", "entropy", "patience", "patience_confidence", "policy", "static")
#: Rules whose exits follow from the exit logits alone (``policy`` needs the method's exit scores too).
CLOSED_FORM_RULES = ("confidence", "entropy", "patience", "patience_confidence")
#: Thresholds of the maximum softmax probability (and of a learned exit score): coarse at low confidence, dense
#: towards 1, where the last samples leave; 1.0 never exits early.
CONFIDENCE_GRID = np.array(
    [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995,
     0.9999, 1.0]
)
#: Entropy thresholds as shares of the largest entropy, log(n_classes): above 1 every sample leaves at the
#: first exit, 0 never exits early.
ENTROPY_SHARES = np.array(
    [0.0, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8,
     1.0, 1.01]
)


def rule_code(rule: str) -> int:
    """Index of ``rule`` in :data:`RULES` (how predictions carry it).

    Raises:
        ValueError: ``rule`` is not one of :data:`RULES`.
    """
    if rule not in RULES:
        msg = f"exit rule must be one of {', '.join(RULES)}; got {rule!r}."
        raise ValueError(msg)
    return RULES.index(rule)


def threshold_grid(rule: str, *, n_exits: int, n_classes: int) -> np.ndarray:
    """The thresholds the track sweeps for ``rule``.

    Args:
        rule: One of :data:`RULES`.
        n_exits: Exits of the method's model (the last at the end of the backbone).
        n_classes: Classes of the dataset.

    Returns:
        float64 array of shape (n_thresholds,), in the order the sweep runs (from early to late exits for
        ``confidence``, ``policy`` and ``static``; from late to early for the entropy rules and ``patience``).

    Example:
        >>> threshold_grid("patience", n_exits=4, n_classes=10).tolist()
        [1.0, 2.0, 3.0, 4.0]
    """
    rule_code(rule)
    if rule in ("confidence", "policy"):
        return CONFIDENCE_GRID.copy()
    if rule in ("entropy", "patience_confidence"):
        return ENTROPY_SHARES * np.log(n_classes)
    if rule == "patience":
        return np.arange(1, n_exits + 1, dtype=np.float64)
    return np.arange(n_exits, dtype=np.float64)


def score_exit(exit_scores: np.ndarray, *, threshold: float) -> np.ndarray:
    """Exit at the first exit whose score exceeds ``threshold`` (the last exit where none does).

    Args:
        exit_scores: float array of shape (n_exits, n_samples), e.g. a learned estimate of the probability that
            the exit's prediction is right.
        threshold: Score to exceed (strictly, as the confidence rule).

    Returns:
        int64 array of shape (n_samples,), exits in ``[0, n_exits)``.

    Example:
        >>> score_exit(np.array([[0.2, 0.9], [0.95, 0.1]]), threshold=0.5).tolist()
        [1, 0]
    """
    passes = np.asarray(exit_scores, dtype=np.float64) > float(threshold)
    passes[-1] = True
    return np.argmax(passes, axis=0).astype(np.int64)


def sweep_exits(
    rule: str, exit_logits: np.ndarray, thresholds: np.ndarray, *, patience: int = 2,
    exit_scores: np.ndarray | None = None,
) -> np.ndarray:
    """The exit of every sample at every threshold of a sweep.

    Args:
        rule: One of :data:`RULES`.
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        thresholds: float array of shape (n_thresholds,), e.g. :func:`threshold_grid`.
        patience: Consecutive confident exits of ``patience_confidence``.
        exit_scores: float array of shape (n_exits, n_samples), the exit scores of ``policy`` (else unused).

    Returns:
        int64 array of shape (n_thresholds, n_samples), exits in ``[0, n_exits)``.

    Raises:
        ValueError: ``rule`` is unknown, or ``policy`` without ``exit_scores``.

    Example:
        >>> logits = np.array([[[3.0, 0.0]], [[0.0, 3.0]]])
        >>> sweep_exits("confidence", logits, np.array([0.5, 0.99])).tolist()
        [[0], [1]]
    """
    rule_code(rule)
    if rule == "policy" and exit_scores is None:
        msg = "rule 'policy' exits on the method's exit scores; pass exit_scores of shape (n_exits, n_samples)."
        raise ValueError(msg)
    n_exits, n_samples = exit_logits.shape[:2]
    rows = []
    for t in np.asarray(thresholds, dtype=np.float64):
        if rule == "confidence":
            rows.append(confidence_exit(exit_logits, threshold=t))
        elif rule == "entropy":
            rows.append(entropy_exit(exit_logits, threshold=t))
        elif rule == "patience":
            rows.append(patience_exit(exit_logits, patience=int(t)))
        elif rule == "patience_confidence":
            rows.append(patience_confidence_exit(exit_logits, threshold=t, patience=patience))
        elif rule == "policy":
            rows.append(score_exit(exit_scores, threshold=t))
        else:
            rows.append(np.full(n_samples, min(int(t), n_exits - 1), dtype=np.int64))
    return np.stack(rows).astype(np.int64) if rows else np.zeros((0, n_samples), dtype=np.int64)
