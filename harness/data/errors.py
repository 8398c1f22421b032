"""Errors of the dataset loaders: a layout on disk that a loader cannot read.

Both classes derive from :class:`harness.errors.ParbenchError`, so the CLI prints their message
as one line, and from the builtin error they refine, so ``except ValueError`` (a bad layout) and
``except FileNotFoundError`` (no dataset at all) keep working.
"""

from __future__ import annotations

from harness.errors import DatasetNotFoundError, ParbenchError

__all__ = ["DataLayoutError", "DataMissingError"]


class DataLayoutError(ParbenchError, ValueError):
    """A dataset folder that does not follow its official layout.

    The message names the offending file relative to the dataset folder, states the naming
    rule with an example and says how to fix it.
    """


class DataMissingError(DataLayoutError, DatasetNotFoundError):
    """A dataset folder, category or split file that is not on disk at all."""
