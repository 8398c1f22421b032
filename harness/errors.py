"""Errors a user reads.

Every error the harness raises on bad input is a :class:`ParbenchError`; the CLI prints
its message as one line and exits with status 2, without a traceback. Each subclass also
derives from the builtin error it refines, so existing ``except`` clauses still catch it.
"""

from __future__ import annotations

__all__ = [
    "BudgetError",
    "CardError",
    "DatasetNotFoundError",
    "InvalidPredictionError",
    "ParbenchError",
    "ResultsError",
    "UnknownNameError",
]


class ParbenchError(Exception):
    """Base class of the errors that carry a message meant for the user."""


class UnknownNameError(ParbenchError, LookupError):
    """A track, dataset, method or budget name that is not registered."""

    def __str__(self) -> str:
        # LookupError would quote the message like a dict key; keep it readable.
        return str(self.args[0]) if self.args else ""


class BudgetError(ParbenchError, ValueError):
    """A budget preset or override that is not valid."""


class CardError(ParbenchError, ValueError):
    """A dataset card with a missing, unfilled or unknown key."""


class DatasetNotFoundError(ParbenchError, FileNotFoundError):
    """A dataset that is not on disk; the message says where to get it and where to put it."""


class InvalidPredictionError(ParbenchError, ValueError):
    """Predictions with NaN, a wrong shape, a wrong dtype or out-of-range values."""


class ResultsError(ParbenchError, OSError):
    """A results folder that cannot be written or a store that cannot be read."""
