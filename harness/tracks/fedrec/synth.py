"""The embedded default data of the ``fedrec`` track: MovieLens-100K-format ``u.data`` files with non-IID users.

:func:`generate` writes one folder per subset, each holding ``u.data`` (tab-separated ``user item rating
timestamp``, 1-based ids, no header, as MovieLens-100K) and ``u.info`` (the counts), so the default data goes
through :func:`harness.data.interactions.load_movielens_100k`, the loader of the real file. Subsets
(:data:`PRESETS`):

- ``ml100k_size``: about the size of MovieLens-100K (943 users, 1682 items, about 100k ratings, every user
  with at least 20), the default budget's data;
- ``tiny``: 60 users and 320 items plus three users with one or two ratings (the protocol drops them and
  counts them in the job log), the smoke budget's data.

How the interactions are drawn, deterministically from the seed:

1. **Clustered, heterogeneous tastes (non-IID clients).** Items fall into ``n_clusters`` genres of Dirichlet
   sizes; each user's taste is a Dirichlet(``taste_concentration``) mixture over genres, so most users favour
   one to three genres and users differ strongly. A low-rank personal term (``n_personal_factors``) adds
   within-genre preferences.
2. **Power-law popularity.** Item weights follow a Zipf law of exponent ``popularity_exponent`` over a random
   popularity rank.
3. **Sparse histories.** The number of ratings of a user is log-normal (median ``median_activity``, log-std
   ``activity_spread``), clipped to [``min_activity``, ``max_activity``]. A user's items are drawn without
   replacement with probability proportional to popularity times taste (Gumbel top-k). Every item is rated
   at least once (an item nobody drew goes to the user who likes it most, among those who can take one more).
4. **Timestamps.** Each user starts at a random time of a seven-month window (as MovieLens-100K, from
   1997-09-20) and rates in sessions: gaps are exponential, mostly minutes within a session and days between
   sessions; the order of the items in time is random, so the last item (the test item) is a fresh draw from
   the same taste.
5. **Ratings** 1-5 rise with the user's taste for the item's genre, with noise (the track binarises them).

Lines are written in a random order, so the file order carries no time information.

Reference:
    Harper, Konstan. "The MovieLens Datasets: History and Context." ACM TiiS 5(4), 2015 (the layout mimicked).

License:
    Apache-2.0, as parbench (generated data).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.data.synth._staging import check_subsets, staged

__all__ = ["PRESETS", "SUBSETS", "VERSION", "generate", "generate_subset"]

#: Version of :func:`generate`'s output; bump it whenever the files change.
VERSION = "1"
#: Start of the timestamp window (1997-09-20 00:00 UTC, the first MovieLens-100K rating day).
WINDOW_START_S = 874_713_600
#: Length of the window: seven months.
WINDOW_S = 214 * 86_400
#: Generator parameters of each subset.
PRESETS: dict[str, dict[str, Any]] = {
    "ml100k_size": {
        "n_users": 943, "n_items": 1682, "n_clusters": 18, "taste_concentration": 0.15,
        "popularity_exponent": 1.0, "popularity_weight": 1.0, "taste_weight": 1.2, "n_personal_factors": 8,
        "personal_scale": 0.6, "median_activity": 68.0, "activity_spread": 0.95, "min_activity": 20,
        "max_activity": 737, "n_sparse_users": 0,
    },
    "tiny": {
        "n_users": 60, "n_items": 320, "n_clusters": 4, "taste_concentration": 0.2,
        "popularity_exponent": 0.8, "popularity_weight": 0.8, "taste_weight": 1.2, "n_personal_factors": 4,
        "personal_scale": 0.6, "median_activity": 14.0, "activity_spread": 0.6, "min_activity": 6,
        "max_activity": 60, "n_sparse_users": 3,
    },
}
#: Every subset :func:`generate` writes, sorted.
SUBSETS = tuple(sorted(PRESETS))


def _activity(rng: np.random.Generator, p: dict[str, Any]) -> np.ndarray:
    counts = np.exp(np.log(p["median_activity"]) + p["activity_spread"] * rng.standard_normal(p["n_users"]))
    return np.clip(np.round(counts), p["min_activity"], min(p["max_activity"], p["n_items"] // 2)).astype(np.int64)


def _log_weights(rng: np.random.Generator, p: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Return log sampling weights of shape (n_users, n_items) and each user's taste for each item's genre."""
    n_users, n_items, k = p["n_users"], p["n_items"], p["n_clusters"]
    sizes = rng.dirichlet(np.full(k, 2.0))
    genre = rng.choice(k, size=n_items, p=sizes)
    taste = rng.dirichlet(np.full(k, p["taste_concentration"]), size=n_users)
    rank = rng.permutation(n_items) + 1
    log_popularity = -p["popularity_exponent"] * np.log(rank)
    user_factors = rng.standard_normal((n_users, p["n_personal_factors"]))
    item_factors = rng.standard_normal((n_items, p["n_personal_factors"]))
    personal = user_factors @ item_factors.T / np.sqrt(p["n_personal_factors"])
    genre_taste = taste[:, genre]
    log_w = (
        p["popularity_weight"] * log_popularity[None, :]
        + p["taste_weight"] * np.log(genre_taste + 1e-3)
        + p["personal_scale"] * personal
    )
    return log_w, genre_taste


def _draw_items(rng: np.random.Generator, log_w: np.ndarray, activity: np.ndarray) -> list[np.ndarray]:
    """Gumbel top-k per user, then give every item nobody drew to the user who weighs it most."""
    keys = log_w + rng.gumbel(size=log_w.shape)
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = [order[u, : activity[u]] for u in range(len(activity))]
    taken = np.zeros(log_w.shape, dtype=bool)
    for u, items in enumerate(chosen):
        taken[u, items] = True
    for item in np.flatnonzero(~taken.any(axis=0)):
        room = taken.sum(axis=1) < log_w.shape[1] // 2
        user = int(np.argmax(np.where(room, log_w[:, item], -np.inf)))
        chosen[user] = np.append(chosen[user], item)
        taken[user, item] = True
    return chosen


def _timestamps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Increasing timestamps of ``n`` ratings inside the window: session gaps of days, in-session gaps of minutes."""
    new_session = rng.random(n) < 0.15
    gaps = np.where(new_session, rng.exponential(3 * 86_400, n), rng.exponential(240, n))
    times = np.cumsum(np.ceil(gaps) + 1)
    if times[-1] > 0.9 * WINDOW_S:  # a very active user: squeeze its sessions into the window
        times = times * (0.9 * WINDOW_S / times[-1])
    times = np.floor(times).astype(np.int64) + np.arange(n)  # strictly increasing
    start = int(rng.integers(0, max(1, WINDOW_S - int(times[-1]))))
    return WINDOW_START_S + start + times


def generate_subset(folder: Path, *, seed: int, params: dict[str, Any]) -> int:
    """Write ``u.data`` and ``u.info`` of one subset into ``folder``; return the number of ratings.

    Args:
        folder: Folder to write into (created).
        seed: Seed; with ``params`` it fixes every byte written.
        params: Generator parameters, as the values of :data:`PRESETS`.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, params["n_users"], params["n_items"]]))
    log_w, genre_taste = _log_weights(rng, params)
    chosen = _draw_items(rng, log_w, _activity(rng, params))
    rows = []
    for u, items in enumerate(chosen):
        items = rng.permutation(items)
        times = _timestamps(rng, len(items))
        score = (genre_taste[u, items] * params["n_clusters"]) ** 0.5
        ratings = np.clip(np.round(2.2 + score + 0.9 * rng.standard_normal(len(items))), 1, 5).astype(np.int64)
        rows.append(np.stack([np.full(len(items), u + 1), items + 1, ratings, times], axis=1))
    n_sparse = params["n_sparse_users"]
    for j in range(n_sparse):  # users with 1 or 2 ratings: dropped by the protocol
        u = params["n_users"] + j + 1
        items = rng.choice(params["n_items"], size=1 + j % 2, replace=False) + 1
        times = _timestamps(rng, len(items))
        rows.append(np.stack([np.full(len(items), u), items, np.full(len(items), 4), times], axis=1))
    table = np.concatenate(rows)[rng.permutation(sum(len(r) for r in rows))]
    folder.mkdir(parents=True, exist_ok=True)
    lines = "\n".join(f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in table.tolist())
    (folder / "u.data").write_text(lines + "\n")
    n_users = params["n_users"] + n_sparse
    (folder / "u.info").write_text(f"{n_users} users\n{params['n_items']} items\n{len(table)} ratings\n")
    return len(table)


def generate(root: Path, *, seed: int = 0, subsets: tuple[str, ...] = SUBSETS) -> None:
    """Write the default interaction data: ``<root>/<subset>/u.data`` for every subset.

    Args:
        root: Folder to create; written under a temporary name, then renamed (a crash leaves no half dataset).
        seed: Seed of every draw.
        subsets: Subsets to write, a selection of :data:`SUBSETS`.

    Raises:
        ValueError: A subset name is unknown; lists the known ones.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "data"
        >>> generate(root, subsets=("tiny",))
        >>> sorted(p.name for p in (root / "tiny").iterdir())
        ['u.data', 'u.info']
    """
    check_subsets(subsets, SUBSETS)
    with staged(root) as folder:
        for subset in subsets:
            generate_subset(folder / subset, seed=seed, params=PRESETS[subset])
