"""Early-exit rules: which exit each sample takes, given the logits of every exit.

Every rule is a pure function of ``exit_logits``, a float array of shape (n_exits, n_samples, n_classes) (the
logits of exit ``k`` for every sample, exits in backbone order, the last one at the end of the backbone), and
returns int64 exit indices of shape (n_samples,). A rule reads exits in order and stops at the first exit whose
test passes; a sample that passes none leaves at the last exit. The rules only read logits of exits up to the
one taken, as a model that stops there could. Comparisons follow LGViT's code (``falcon-xu/LGViT``,
``DeiTEncoder.forward``): confidence strictly above its threshold, entropy strictly below its threshold, so a
value equal to the threshold does not exit.

- :func:`confidence_exit`: maximum softmax probability > threshold (ViT-EE / DeeBERT-style exits; Xin et al.
  2020, "DeeBERT", ACL).
- :func:`entropy_exit`: entropy of the softmax (natural log) < threshold (DeeBERT's criterion).
- :func:`patience_exit`: ``patience`` consecutive exits predict the same class (PABEE; Zhou et al. 2020, "BERT
  Loses Patience", NeurIPS). PABEE's own patience ``t`` counts unchanged predictions between neighbouring
  exits, so it equals ``patience = t + 1`` here; LGViT's code counts as here.
- :func:`patience_confidence_exit`: ``patience`` consecutive exits each have entropy < threshold (PCEE-BERT;
  Zhang et al. 2022, NAACL Findings).

Predicted classes are argmaxes of the logits, ties to the lowest class (``np.argmax``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim

__all__ = ["confidence_exit", "entropy_exit", "patience_confidence_exit", "patience_exit", "softmax_entropy"]


def _logits(exit_logits: Any, caller: str) -> np.ndarray:
    logits = as_array(exit_logits, "exit_logits", caller).astype(np.float64)
    check_ndim(logits, "exit_logits", caller, 3, "(n_exits, n_samples, n_classes)")
    check_finite(logits, "exit_logits", caller)
    return logits


def _patience(patience: Any, caller: str, n_exits: int) -> int:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        msg = f"Argument `patience` of {caller} must be an int >= 1; got {patience!r}."
        raise MetricInputError(msg)
    if patience > n_exits:
        msg = (
            f"Argument `patience` of {caller} is {patience}, more than the {n_exits} exits; no sample could exit "
            "early. Pass at most n_exits."
        )
        raise MetricInputError(msg)
    return int(patience)


def _threshold(threshold: Any, caller: str) -> float:
    value = float(threshold)
    if not np.isfinite(value):
        msg = f"Argument `threshold` of {caller} must be finite; got {threshold!r}."
        raise MetricInputError(msg)
    return value


def _first_pass(passes: np.ndarray) -> np.ndarray:
    """Index of the first True along axis 0 of a (n_exits, n_samples) bool array; the last exit where none."""
    passes = passes.copy()
    passes[-1] = True
    return np.argmax(passes, axis=0).astype(np.int64)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax_entropy(exit_logits: Any) -> np.ndarray:
    """Entropy (natural log) of the softmax of every exit's logits.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).

    Returns:
        float64 array of shape (n_exits, n_samples), in ``[0, log(n_classes)]``.

    Example:
        >>> softmax_entropy(np.zeros((1, 1, 2))).round(4)
        array([[0.6931]])
    """
    log_p = _log_softmax(_logits(exit_logits, "softmax_entropy"))
    return -(np.exp(log_p) * log_p).sum(axis=-1)


def confidence_exit(exit_logits: Any, *, threshold: float) -> np.ndarray:
    """Exit at the first exit whose maximum softmax probability exceeds ``threshold``.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        threshold: Confidence to exceed, in [0, 1] for a useful rule (1 never exits early, below
            ``1 / n_classes`` always exits at the first exit).

    Returns:
        int64 array of shape (n_samples,), exit indices in ``[0, n_exits)``.

    Example:
        >>> confidence_exit(np.array([[[3.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]]), threshold=0.9)
        array([0, 1])
    """
    logits = _logits(exit_logits, "confidence_exit")
    threshold = _threshold(threshold, "confidence_exit")
    return _first_pass(np.exp(_log_softmax(logits)).max(axis=-1) > threshold)


def entropy_exit(exit_logits: Any, *, threshold: float) -> np.ndarray:
    """Exit at the first exit whose softmax entropy (natural log) is below ``threshold``.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        threshold: Entropy to go below (0 never exits early; above ``log(n_classes)`` always exits first).

    Returns:
        int64 array of shape (n_samples,), exit indices in ``[0, n_exits)``.

    Example:
        >>> entropy_exit(np.array([[[3.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]]), threshold=0.3)
        array([0, 1])
    """
    threshold = _threshold(threshold, "entropy_exit")
    return _first_pass(softmax_entropy(exit_logits) < threshold)


def _run_length(events: np.ndarray) -> np.ndarray:
    """Length of the run of consecutive True values ending at each exit: int (n_exits, n_samples)."""
    runs = np.zeros(events.shape, dtype=np.int64)
    current = np.zeros(events.shape[1], dtype=np.int64)
    for k in range(events.shape[0]):
        current = np.where(events[k], current + 1, 0)
        runs[k] = current
    return runs


def patience_exit(exit_logits: Any, *, patience: int) -> np.ndarray:
    """Exit once ``patience`` consecutive exits predict the same class (PABEE).

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        patience: Number of consecutive agreeing exits, >= 1 and <= n_exits (1 exits at the first exit; PABEE's
            patience ``t`` is ``t + 1`` here).

    Returns:
        int64 array of shape (n_samples,), exit indices in ``[0, n_exits)``: the first exit ``k`` at which exits
        ``k - patience + 1 .. k`` all predict the class of exit ``k``; the last exit where there is none.

    Example:
        >>> logits = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.0, 1.0]], [[1.0, 0.0]]])
        >>> patience_exit(logits, patience=2)
        array([2])
    """
    logits = _logits(exit_logits, "patience_exit")
    patience = _patience(patience, "patience_exit", logits.shape[0])
    predictions = np.argmax(logits, axis=-1)
    same = np.ones(predictions.shape, dtype=bool)
    same[1:] = predictions[1:] == predictions[:-1]
    # a run of agreeing exits: the first exit starts one, each exit agreeing with the previous one extends it
    runs = np.ones(predictions.shape, dtype=np.int64)
    for k in range(1, len(runs)):
        runs[k] = np.where(same[k], runs[k - 1] + 1, 1)
    return _first_pass(runs >= patience)


def patience_confidence_exit(exit_logits: Any, *, threshold: float, patience: int) -> np.ndarray:
    """Exit once ``patience`` consecutive exits are each confident: softmax entropy below ``threshold`` (PCEE).

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        threshold: Entropy (natural log) each exit of the run must go below.
        patience: Number of consecutive confident exits, >= 1 and <= n_exits (1 is :func:`entropy_exit`).

    Returns:
        int64 array of shape (n_samples,), exit indices in ``[0, n_exits)``: the first exit ending a run of
        ``patience`` confident exits; the last exit where there is none.

    Example:
        >>> logits = np.array([[[3.0, 0.0]], [[0.0, 0.0]], [[0.0, 3.0]], [[3.0, 0.0]]])
        >>> patience_confidence_exit(logits, threshold=0.3, patience=2)
        array([3])
    """
    logits = _logits(exit_logits, "patience_confidence_exit")
    patience = _patience(patience, "patience_confidence_exit", logits.shape[0])
    threshold = _threshold(threshold, "patience_confidence_exit")
    confident = softmax_entropy(logits) < threshold
    return _first_pass(_run_length(confident) >= patience)
