"""Early-exit metrics: accuracy of the exits a model took, accuracy of every exit, average exit, cost, speed-up.

An early-exit model has ``n_exits`` classifiers (exits) along its backbone, the last one at its end. For each
test sample a method returns the logits of its exits, float array ``exit_logits`` of shape
(n_exits, n_samples, n_classes), and the exit it took, int array ``exit_layers`` of shape (n_samples,) holding
0-based indices into the exits. The prediction of a sample is the argmax of the logits of the exit it took;
ties between classes go to the lowest class index (as ``np.argmax``).

Costs are per image and per exit, float array ``exit_costs`` of shape (n_exits,): what a sample that leaves at
exit ``k`` costs (FLOPs counted, or seconds measured), including every exit head evaluated on the way. The
expected cost of a policy is the mean of ``exit_costs[exit_layers]`` over the samples, and its speed-up is the
cost of the full model divided by that mean (see :func:`speedup`). Accuracy is higher-is-better, cost and
average exit lower-is-better, speed-up higher-is-better.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.metrics._validation import MetricInputError, as_array, check_finite, check_ndim, check_same_length

__all__ = ["early_exit_accuracy", "expected_cost", "mean_exit_layer", "per_exit_accuracy", "speedup"]


def _indices_validate(values: Any, name: str, caller: str, n_values: int, what: str) -> np.ndarray:
    """A 1-D integer array with every value in [0, n_values); returns int64."""
    array = as_array(values, name, caller)
    check_ndim(array, name, caller, 1, "(n_samples,)")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            first = int(np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))[0])
            msg = f"Argument `{name}` of {caller} must hold integers; got {array[first]} at index {first}."
            raise MetricInputError(msg)
    elif array.dtype.kind == "b":
        msg = f"Argument `{name}` of {caller} must hold integers; got booleans. Pass {what} indices."
        raise MetricInputError(msg)
    array = array.astype(np.int64)
    bad = np.flatnonzero((array < 0) | (array >= n_values))
    if bad.size:
        first = int(bad[0])
        msg = (
            f"Argument `{name}` of {caller} must hold {what} indices in [0, {n_values - 1}]; got {array[first]} at "
            f"index {first} ({bad.size} out of range)."
        )
        raise MetricInputError(msg)
    return array


def _logits_validate(exit_logits: Any, caller: str) -> np.ndarray:
    logits = as_array(exit_logits, "exit_logits", caller)
    check_ndim(logits, "exit_logits", caller, 3, "(n_exits, n_samples, n_classes)")
    check_finite(logits, "exit_logits", caller)
    return logits


def _costs_validate(exit_costs: Any, caller: str) -> np.ndarray:
    costs = as_array(exit_costs, "exit_costs", caller).astype(np.float64)
    check_ndim(costs, "exit_costs", caller, 1, "(n_exits,)")
    check_finite(costs, "exit_costs", caller)
    if (costs <= 0).any():
        first = int(np.flatnonzero(costs <= 0)[0])
        msg = f"Argument `exit_costs` of {caller} must be > 0 (a cost per image); got {costs[first]} at exit {first}."
        raise MetricInputError(msg)
    return costs


def early_exit_accuracy(exit_logits: Any, labels: Any, exit_layers: Any, *, validate: bool = True) -> float:
    """Accuracy of the predictions at the exits the samples took.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes), logits (or probabilities) of every exit.
        labels: int array of shape (n_samples,), true classes in ``[0, n_classes)``.
        exit_layers: int array of shape (n_samples,), the exit each sample took, in ``[0, n_exits)``.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The share of samples whose argmax at their exit equals their label (ties: lowest class), a Python float.

    Raises:
        MetricInputError: On wrong shapes, lengths that disagree, non-finite logits, or a label or exit index out
            of range.

    Example:
        >>> logits = np.array([[[2.0, 0.0], [0.0, 1.0]], [[0.0, 3.0], [0.0, 1.0]]])
        >>> early_exit_accuracy(logits, [0, 1], [0, 1])
        1.0
    """
    caller = "early_exit_accuracy"
    if validate:
        logits = _logits_validate(exit_logits, caller)
        n_exits, _, n_classes = logits.shape
        labels = _indices_validate(labels, "labels", caller, n_classes, "class")
        exit_layers = _indices_validate(exit_layers, "exit_layers", caller, n_exits, "exit")
        check_same_length({"exit_logits[0]": logits[0], "labels": labels, "exit_layers": exit_layers}, caller)
    else:
        logits, labels, exit_layers = np.asarray(exit_logits), np.asarray(labels), np.asarray(exit_layers)
    taken = logits[exit_layers, np.arange(len(exit_layers))]
    return float(np.mean(np.argmax(taken, axis=1) == labels))


def per_exit_accuracy(exit_logits: Any, labels: Any, *, validate: bool = True) -> dict[int, float]:
    """Accuracy of every exit on its own, as if every sample left there.

    Args:
        exit_logits: float array of shape (n_exits, n_samples, n_classes).
        labels: int array of shape (n_samples,), true classes in ``[0, n_classes)``.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        Exit index (0-based) -> its accuracy, Python floats; the last entry is the full model's accuracy.

    Raises:
        MetricInputError: On wrong shapes, lengths that disagree, non-finite logits or a label out of range.

    Example:
        >>> logits = np.array([[[2.0, 0.0], [2.0, 1.0]], [[0.0, 3.0], [0.0, 1.0]]])
        >>> per_exit_accuracy(logits, [0, 1])
        {0: 0.5, 1: 0.5}
    """
    caller = "per_exit_accuracy"
    if validate:
        logits = _logits_validate(exit_logits, caller)
        labels = _indices_validate(labels, "labels", caller, logits.shape[2], "class")
        check_same_length({"exit_logits[0]": logits[0], "labels": labels}, caller)
    else:
        logits, labels = np.asarray(exit_logits), np.asarray(labels)
    correct = np.argmax(logits, axis=2) == labels[None, :]
    return {k: float(v) for k, v in enumerate(correct.mean(axis=1))}


def mean_exit_layer(exit_layers: Any, *, exit_depths: Any, validate: bool = True) -> float:
    """Average depth at which the samples left the backbone.

    Args:
        exit_layers: int array of shape (n_samples,), the exit each sample took, in ``[0, n_exits)``.
        exit_depths: int or float array of shape (n_exits,), the backbone layer after which each exit sits
            (1-based: an exit after the first transformer block has depth 1), strictly increasing.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The mean of ``exit_depths[exit_layers]``, a Python float.

    Raises:
        MetricInputError: On wrong shapes, non-increasing depths or an exit index out of range.

    Example:
        >>> mean_exit_layer([0, 1, 1, 3], exit_depths=[3, 6, 9, 12])
        6.75
    """
    caller = "mean_exit_layer"
    depths = as_array(exit_depths, "exit_depths", caller).astype(np.float64)
    if validate:
        check_ndim(depths, "exit_depths", caller, 1, "(n_exits,)")
        check_finite(depths, "exit_depths", caller)
        if (np.diff(depths) <= 0).any():
            msg = f"Argument `exit_depths` of {caller} must be strictly increasing; got {depths.tolist()}."
            raise MetricInputError(msg)
        exit_layers = _indices_validate(exit_layers, "exit_layers", caller, len(depths), "exit")
    return float(np.mean(depths[np.asarray(exit_layers, dtype=np.int64)]))


def expected_cost(exit_layers: Any, exit_costs: Any, *, validate: bool = True) -> float:
    """Mean cost per image of a policy: the mean over samples of the cost of the exit each took.

    Args:
        exit_layers: int array of shape (n_samples,), the exit each sample took, in ``[0, n_exits)``.
        exit_costs: float array of shape (n_exits,), cost per image of leaving at each exit (> 0), e.g. FLOPs
            of the backbone up to the exit plus the heads evaluated on the way.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        ``mean(exit_costs[exit_layers])`` in the unit of the costs, a Python float.

    Raises:
        MetricInputError: On wrong shapes, a non-positive or non-finite cost, or an exit index out of range.

    Example:
        >>> expected_cost([0, 0, 2], [1.0, 2.0, 4.0])
        2.0
    """
    caller = "expected_cost"
    if validate:
        costs = _costs_validate(exit_costs, caller)
        exit_layers = _indices_validate(exit_layers, "exit_layers", caller, len(costs), "exit")
    else:
        costs = np.asarray(exit_costs, dtype=np.float64)
    return float(np.mean(costs[np.asarray(exit_layers, dtype=np.int64)]))


def speedup(exit_layers: Any, exit_costs: Any, *, full_cost: float, validate: bool = True) -> float:
    """Speed-up of a policy over the full model: ``full_cost / expected_cost(exit_layers, exit_costs)``.

    With measured seconds per image this is the ratio of the total time of running every test sample through
    the full model to the total time of running each sample up to its exit (the sum over samples of the
    measured time of its exit); with FLOPs it is the FLOPs speed-up. A policy that pays for its heads can score
    below 1.

    Args:
        exit_layers: int array of shape (n_samples,), the exit each sample took, in ``[0, n_exits)``.
        exit_costs: float array of shape (n_exits,), cost per image of leaving at each exit (> 0).
        full_cost: Cost per image of the full model without intermediate heads (> 0), in the same unit.
        validate: Check the inputs; pass False only for inputs already checked.

    Returns:
        The speed-up, a Python float.

    Raises:
        MetricInputError: As :func:`expected_cost`, or ``full_cost`` is not a finite number > 0.

    Example:
        >>> speedup([0, 0, 2], [1.0, 2.0, 4.0], full_cost=4.0)
        2.0
    """
    caller = "speedup"
    if validate:
        full = as_array(full_cost, "full_cost", caller).astype(np.float64)
        if full.size != 1 or not np.isfinite(full).all() or float(full.reshape(-1)[0]) <= 0:
            msg = f"Argument `full_cost` of {caller} must be one finite number > 0; got {full_cost!r}."
            raise MetricInputError(msg)
    return float(full_cost) / expected_cost(exit_layers, exit_costs, validate=validate)
