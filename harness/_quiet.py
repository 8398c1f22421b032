"""Warnings raised while the fork server imports the jobs' libraries go to each job's log, not to the console.

The fork server imports this module first: from then on it keeps every warning that an import emits (timm and
anomalib print a FutureWarning each at import) instead of printing it. A job forked from the server inherits
the kept warnings and writes them once at the top of its own log (:func:`replay`), and warnings it raises
itself go to its log as usual.
"""

from __future__ import annotations

import logging
import warnings

__all__ = ["KEPT", "replay"]

#: Warnings kept while the fork server imported its preload, formatted as :func:`warnings.formatwarning` does.
KEPT: list[str] = []
_show = warnings.showwarning


def _keep(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001 - warnings' own signature
    KEPT.append(warnings.formatwarning(message, category, filename, lineno, line).rstrip())


warnings.showwarning = _keep


def replay(log: logging.Logger) -> None:
    """Write the kept import warnings to the job's log once and print later warnings there as usual."""
    warnings.showwarning = _show
    for text in KEPT:
        log.warning("while importing the libraries: %s", text)
    KEPT.clear()
