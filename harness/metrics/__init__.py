"""Metrics: pure functions from predictions and ground truth to Python floats.

One module per metric family (``DESIGN.md``, "Metric definitions"); import the module and
call its functions, predictions first and truth second::

    from harness.metrics import anomaly
    anomaly.aupro(maps, masks)

Inputs are numpy arrays or torch tensors (any device; tensors are copied to host memory).
Invalid inputs raise :class:`MetricInputError` (a ``ValueError``) that names the argument,
the offending value and its index; no metric returns NaN or a default value silently.
"""

from harness.metrics import agreement, anomaly, collapse, curves, early_exit, localization, ranking, retrieval
from harness.metrics._validation import MetricInputError

__all__ = [
    "MetricInputError",
    "agreement",
    "anomaly",
    "collapse",
    "curves",
    "early_exit",
    "localization",
    "ranking",
    "retrieval",
]
