"""Shared cases of the Lastfm-2K tests: ``user_artists.dat`` files in the HetRec 2011 layout, written by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: The subset folder of the HetRec 2011 archive.
SUBSET = "hetrec2011-lastfm-2k"


def lastfm_lines(n_users: int = 60, n_artists: int = 500, *, seed: int = 0) -> list[str]:
    """Lines of a ``user_artists.dat``: 5 to 40 artists per user, sorted by artist id within each user, as HetRec's."""
    rng = np.random.default_rng(seed)
    lines = []
    for user in range(2, 2 + n_users):
        artists = np.sort(rng.choice(np.arange(1, n_artists + 1), size=int(rng.integers(5, 41)), replace=False))
        lines += [f"{user}\t{a}\t{int(rng.integers(1, 5000))}" for a in artists]
    return lines


def write_lastfm(root: Path, lines: list[str]) -> Path:
    """Write ``<root>/hetrec2011-lastfm-2k/user_artists.dat`` (header row, then ``lines``); return ``root``."""
    folder = root / SUBSET
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n" + "\n".join(lines) + "\n")
    return root
