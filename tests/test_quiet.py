"""Warnings the fork server's imports raise are kept, then written once into each job's log."""

from __future__ import annotations

import logging
import warnings


def test_kept_import_warnings_are_replayed_into_the_log_once(caplog):
    show = warnings.showwarning
    try:
        from harness import _quiet

        warnings.showwarning = _quiet._keep  # as when the fork server imported the module first
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("a library says: deprecated", FutureWarning, stacklevel=1)
        assert any("FutureWarning: a library says: deprecated" in text for text in _quiet.KEPT)
        log = logging.getLogger("parbench.test-quiet")
        with caplog.at_level(logging.WARNING, logger="parbench.test-quiet"):
            _quiet.replay(log)
            _quiet.replay(log)
        assert caplog.text.count("while importing the libraries:") == 1
        assert warnings.showwarning is not _quiet._keep
    finally:
        warnings.showwarning = show
