"""Tests of ``harness.metrics``: one module per source module, plus cross-cutting properties."""
