"""Input checks shared by the metric functions.

Every public metric validates its inputs at the boundary with the helpers below and
raises :class:`MetricInputError` with a message that says which argument of which
metric was wrong, where (the index of the first offending element) and what to do.
The helpers take the argument's name and the caller's name so that the message can
say both; they never import torch (a tensor is recognised by its type's module).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.errors import ParbenchError

__all__ = [
    "RESIZE_HINT",
    "MetricInputError",
    "as_array",
    "check_both_classes",
    "check_finite",
    "check_ndim",
    "check_same_length",
    "check_same_shape",
    "to_binary",
]


RESIZE_HINT = "Anomaly maps must be at ground-truth resolution: resize them to the masks' (H, W) first."


class MetricInputError(ParbenchError, ValueError):
    """An input of a metric with a wrong shape, dtype or value.

    Subclasses :class:`ValueError`, so ``except ValueError`` still catches it.
    """


def _where(array: np.ndarray, flat_index: int) -> str:
    """Return the index of ``flat_index`` in ``array`` as text, ``(i, j, k)`` or ``i``."""
    if array.ndim <= 1:
        return str(int(flat_index))
    index = np.unravel_index(int(flat_index), array.shape)
    return "(" + ", ".join(str(int(i)) for i in index) + ")"


def as_array(value: Any, name: str, caller: str) -> np.ndarray:
    """Return ``value`` as a numpy array; torch tensors are detached and moved to the CPU.

    Args:
        value: A numpy array, a torch tensor (any device), or a nested sequence of numbers.
        name: Name of the argument, for the error message.
        caller: Name of the public metric, for the error message.

    Returns:
        A numpy array sharing memory with ``value`` where possible. Boolean, integer and
        floating dtypes are kept as they are.

    Raises:
        MetricInputError: When the value has no numeric dtype (strings, objects, complex).
    """
    if type(value).__module__.startswith("torch"):
        value = value.detach()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        value = value.cpu().numpy()
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        msg = (
            f"Argument `{name}` of {caller} must hold booleans, integers or floats; "
            f"got dtype {array.dtype}. Convert it with np.asarray(..., dtype=float)."
        )
        raise MetricInputError(msg)
    return array


def check_ndim(array: np.ndarray, name: str, caller: str, ndim: int, axes: str) -> None:
    """Raise unless ``array`` has ``ndim`` axes; ``axes`` names them, e.g. ``"(n_images, H, W)"``."""
    if array.ndim != ndim:
        msg = (
            f"Argument `{name}` of {caller} must have shape {axes}; got shape {array.shape}. "
            "Reshape it (for example squeeze a channel axis or stack the per-image arrays)."
        )
        raise MetricInputError(msg)
    if array.size == 0:
        msg = f"Argument `{name}` of {caller} is empty (shape {array.shape}); the metric needs at least one value."
        raise MetricInputError(msg)


def check_same_shape(
    first: np.ndarray, second: np.ndarray, names: tuple[str, str], caller: str, *, hint: str = ""
) -> None:
    """Raise unless both arrays have the same shape, printing both shapes and the ``hint``."""
    if first.shape != second.shape:
        msg = (
            f"Arguments `{names[0]}` and `{names[1]}` of {caller} must have the same shape; "
            f"got {first.shape} and {second.shape}. {hint or 'Pass one value of each per sample.'}"
        )
        raise MetricInputError(msg)


def check_same_length(arrays: dict[str, np.ndarray], caller: str) -> None:
    """Raise unless all arrays have the same length along axis 0, printing every length."""
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"`{name}`: {length}" for name, length in lengths.items())
        msg = f"Arguments of {caller} must have the same length along axis 0; got {listed}."
        raise MetricInputError(msg)


def check_finite(array: np.ndarray, name: str, caller: str) -> None:
    """Raise if ``array`` holds NaN or +-inf, quoting the first offending value and its index.

    A float array is first summed (one fast pass); only when the sum is not finite (a
    non-finite value, or an overflow of the sum) is the element-wise check run, so clean
    inputs cost one reduction and no temporary array.
    """
    if array.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(array)):
            return
    bad = np.flatnonzero(~np.isfinite(array.reshape(-1)))
    if bad.size == 0:
        return
    first = int(bad[0])
    msg = (
        f"Argument `{name}` of {caller} must be finite; got {array.reshape(-1)[first]} at index "
        f"{_where(array, first)} ({bad.size} non-finite values in all). Fix the method that "
        "produced it, or replace them explicitly (np.nan_to_num) if that is intended."
    )
    raise MetricInputError(msg)


def to_binary(array: np.ndarray, name: str, caller: str) -> np.ndarray:
    """Return ``array`` as a bool array, raising unless every value is 0 or 1.

    Args:
        array: Bool, integer or float array of any shape.
        name: Name of the argument, for the error message.
        caller: Name of the public metric, for the error message.

    Returns:
        A bool array of the same shape (the input itself when it is already bool).

    Raises:
        MetricInputError: When a value is neither 0 nor 1; the message gives the first one
            and its index.
    """
    if array.dtype == np.bool_:
        return array
    ok = (array == 0) | (array == 1)
    if not ok.all():
        first = int(np.flatnonzero(~ok.reshape(-1))[0])
        msg = (
            f"Argument `{name}` of {caller} must be binary (0/1 or bool); got {array.reshape(-1)[first]} "
            f"at index {_where(array, first)}. Threshold soft masks or labels first (for example mask > 0.5)."
        )
        raise MetricInputError(msg)
    return array.astype(bool)


def check_both_classes(labels: np.ndarray, name: str, caller: str, *, n_positive: int | None = None) -> int:
    """Raise unless the bool array ``labels`` holds at least one True and one False.

    Args:
        labels: Bool array of any shape.
        name: Name of the argument, for the error message.
        caller: Name of the public metric, for the error message.
        n_positive: The number of True values, when the caller has already counted them.

    Returns:
        The number of True values.

    Raises:
        MetricInputError: When all values are True or all are False; the metric is undefined then.
    """
    if n_positive is None:
        n_positive = int(np.count_nonzero(labels))
    if n_positive == 0 or n_positive == labels.size:
        present = "positive (1)" if n_positive else "negative (0)"
        missing = "negative (0)" if n_positive else "positive (1)"
        msg = (
            f"Argument `{name}` of {caller} holds only {present} values ({labels.size} of them) and no "
            f"{missing} one; the metric is not defined then. Evaluate on a test set that has both classes."
        )
        raise MetricInputError(msg)
    return n_positive
