"""Provenance stamped on every result row: git commit and dirty flag, package versions, device."""

from __future__ import annotations

import json
import platform
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

__all__ = ["PACKAGES", "git_state", "package_versions"]

#: Packages whose versions are recorded (those missing are left out).
PACKAGES = (
    "parbench",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "torch",
    "torchvision",
    "torchmetrics",
    "anomalib",
    "timm",
    "mambapy",
    "numba",
    "scikit-activeml",
    "open_clip_torch",
    "transformers",
)

_REPO = Path(__file__).resolve().parent.parent
#: Folders of the checkout that hold the harness's own outputs (committed leaderboards, figures, references):
#: a run rewrites them, so changes there do not make the code dirty.
OUTPUT_FOLDERS = ("results",)


def git_state(repo: Path = _REPO, *, fresh: bool = False) -> tuple[str, bool]:
    """Return (commit hash, dirty flag) of the checkout, or ("unknown", False) outside git.

    Dirty means a tracked file outside :data:`OUTPUT_FOLDERS` differs from the commit: a run that writes its
    figures into ``results/leaderboards/`` while it runs stays clean. The answer is cached per checkout;
    ``fresh=True`` asks git again (the runner does so as a run starts).
    """
    if fresh:
        _git_state.cache_clear()
    return _git_state(repo)


@lru_cache(maxsize=8)
def _git_state(repo: Path) -> tuple[str, bool]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
             *(f":(exclude){folder}" for folder in OUTPUT_FOLDERS)],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit, bool(status.strip())


@lru_cache(maxsize=1)
def package_versions() -> str:
    """Return a JSON object of the installed versions of :data:`PACKAGES` and Python."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)
