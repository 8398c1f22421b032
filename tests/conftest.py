"""Shared fixtures and sizes of the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import engine_faults
import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True, max_examples=60)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seed() -> None:
    np.random.seed(42)  # noqa: NPY002 - tests only


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root shared by the session; synthetic datasets are generated into it once."""
    root = tmp_path_factory.mktemp("data")
    os.environ["PARBENCH_DATA"] = str(root)
    return root


@pytest.fixture(scope="session", autouse=True)
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache of derived files shared by the session (``$PARBENCH_CACHE``), never the user's own."""
    root = tmp_path_factory.mktemp("derived")
    os.environ["PARBENCH_CACHE"] = str(root)
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """A fresh results folder."""
    return tmp_path / "results"


engine_faults.register()
