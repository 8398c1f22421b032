"""The seqrec track's embedded default: synthetic multi-domain shoppers written in the Amazon 2018 JSON-lines layout.

What the generator models, so that every family of method has something to find and none saturates:

- **Shared and domain-specific tastes.** Items of every domain carry a topic (one of :data:`TOPICS`, shared by the
  domains) and a style; each user has a taste over topics shared by all domains (Dirichlet) mixed with a taste of
  each domain, so what a user reads says something about what they watch.
- **Text carries signal.** An item's title is built from its attributes: a style word, one of three words of its
  topic, a noun of its domain, and, for a series, ``part k``; items of one topic share words across domains.
- **Popularity skew.** Within a topic, items are drawn in proportion to Zipf weights (exponent :data:`ZIPF`).
- **Sequential dynamics.** A user's events in all domains form one timeline; the topic of the next event stays
  that of the previous one (in any domain) with probability :data:`TOPIC_STICKINESS`, and after part ``k`` of a
  series the next event of that domain is part ``k + 1`` with probability :data:`FOLLOW_UP`.
- **Noise.** A share :data:`NOISE` of events is an item drawn by popularity alone.

Files: for each domain ``<Domain>.json`` (``reviewerID``, ``asin``, ``overall``, ``unixReviewTime``, ``summary``
per line, lines in a shuffled order) and ``meta_<Domain>.json`` (``asin``, ``title``, ``categories``), read by the
Amazon loader (:func:`harness.tracks.seqrec.loaders.load_amazon`), and ``README.txt``. A few users have fewer than 5
events in a domain (the 5-core filter removes them) and a few lines are malformed or name items without metadata,
so the loader's filters run on the default data too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["DOMAINS", "PRESETS", "TOPICS", "VERSION", "generate"]

#: Version of the generator (part of the dataset's folder name).
VERSION = "1"
#: Topics shared by the domains, three title words each.
TOPICS = {
    "space": ("galaxy", "orbit", "starship"), "mystery": ("secret", "shadow", "clue"),
    "romance": ("heart", "kiss", "summer"), "history": ("empire", "crown", "century"),
    "cooking": ("kitchen", "spice", "feast"), "music": ("rhythm", "melody", "chorus"),
    "fantasy": ("dragon", "wizard", "realm"), "war": ("battle", "soldier", "front"),
    "comedy": ("laugh", "joke", "fool"), "nature": ("forest", "river", "wild"),
    "crime": ("heist", "detective", "alibi"), "sport": ("champion", "goal", "race"),
}
#: Domains (Amazon categories) and the nouns of their titles.
DOMAINS = {
    "Books": ("novel", "story", "chronicles", "guide"),
    "Movies_and_TV": ("film", "series", "season", "documentary"),
    "CDs_and_Vinyl": ("album", "songs", "live", "anthology"),
}
#: Style words of the titles.
STYLES = ("dark", "bright", "little", "great", "lost", "golden", "silent", "wild", "last", "first", "hidden",
          "broken")
#: Probability that the next event keeps the previous event's topic.
TOPIC_STICKINESS = 0.45
#: Probability of taking the next part of a series right after a part.
FOLLOW_UP = 0.55
#: Share of events drawn by popularity alone.
NOISE = 0.2
#: Exponent of the Zipf popularity within a topic.
ZIPF = 1.0
#: Generator presets: users, items per domain, mean events per user and domain.
PRESETS = {
    "default": {"n_users": 2400, "n_items": (700, 600, 500), "mean_events": 11.0},
    "tiny": {"n_users": 300, "n_items": (180, 160, 150), "mean_events": 9.0},
}
_START = 1_400_000_000  # 2014-05-13, unix seconds


def _catalogue(rng: np.random.Generator, domain: str, n_items: int) -> tuple[np.ndarray, np.ndarray, list[str],
                                                                             np.ndarray]:
    """(topic, next part or -1, title, popularity weight) of each item of a domain."""
    topics_list = list(TOPICS)
    topic = rng.integers(len(topics_list), size=n_items)
    next_part = np.full(n_items, -1, dtype=np.int64)
    part = np.zeros(n_items, dtype=np.int64)
    i = 0
    order = rng.permutation(n_items)
    while i < n_items:  # 35% of the items are in series of 2 to 4 parts of one topic
        if rng.random() < 0.12 and i + 2 <= n_items:
            length = int(min(rng.integers(2, 5), n_items - i))
            members = order[i:i + length]
            topic[members] = topic[members[0]]
            for k, item in enumerate(members):
                part[item] = k + 1
                if k + 1 < length:
                    next_part[item] = members[k + 1]
            i += length
        else:
            i += 1
    nouns = DOMAINS[domain]
    titles = []
    for item in range(n_items):
        words = TOPICS[topics_list[topic[item]]]
        style = STYLES[rng.integers(len(STYLES))]
        title = f"{style} {words[rng.integers(3)]} {nouns[rng.integers(len(nouns))]}"
        titles.append(title)
    for item in range(n_items):  # a series shares its first part's title, then "part k"
        if part[item] == 1:
            k, cur = 1, item
            while cur >= 0:
                titles[cur] = f"{titles[item]} part {k}" if k > 1 else titles[item]
                cur, k = int(next_part[cur]), k + 1
    weight = np.empty(n_items)
    for t in range(len(topics_list)):
        members = np.flatnonzero(topic == t)
        weight[members] = 1.0 / np.arange(1, len(members) + 1) ** ZIPF
        weight[members] = weight[members][rng.permutation(len(members))]
    return topic, next_part, titles, weight


def _timeline(rng: np.random.Generator, cats: list[tuple], taste_shared: np.ndarray, taste_domain: np.ndarray,
              counts: np.ndarray) -> list[tuple[int, int, int]]:
    """(domain, item, seconds) of one user's events in all domains, in time order."""
    n_topics = len(TOPICS)
    slots = np.concatenate([np.full(c, d) for d, c in enumerate(counts)])
    slots = slots[rng.permutation(len(slots))]
    events = []
    seconds = _START + int(rng.integers(0, 86400 * 400))
    last_topic = -1
    last_item = {d: -1 for d in range(len(cats))}
    owned = {d: set() for d in range(len(cats))}
    for d in slots.tolist():
        topic, next_part, _, weight = cats[d]
        item = -1
        prev = last_item[d]
        if prev >= 0 and next_part[prev] >= 0 and next_part[prev] not in owned[d] and rng.random() < FOLLOW_UP:
            item = int(next_part[prev])
        elif rng.random() < NOISE:
            p = weight / weight.sum()
            item = int(rng.choice(len(weight), p=p))
        else:
            if last_topic >= 0 and rng.random() < TOPIC_STICKINESS:
                t = last_topic
            else:
                mix = 0.6 * taste_shared + 0.4 * taste_domain[d]
                t = int(rng.choice(n_topics, p=mix / mix.sum()))
            members = np.flatnonzero(topic == t)
            p = weight[members] / weight[members].sum()
            item = int(members[rng.choice(len(members), p=p)])
        for _ in range(20):  # redraw a repeat by popularity
            if item not in owned[d]:
                break
            item = int(rng.choice(len(weight), p=weight / weight.sum()))
        if item in owned[d]:
            continue
        owned[d].add(item)
        last_item[d] = item
        last_topic = int(topic[item])
        seconds += int(rng.integers(3600, 86400 * 9))
        events.append((d, item, seconds))
    return events


def generate(root: Path, *, seed: int = 0, preset: str = "default") -> None:
    """Write the synthetic multi-domain review files into ``root`` (see the module docstring).

    Args:
        root: Folder to create; written under a temporary name, then renamed (a crash leaves no half dataset).
        seed: Seed of every draw; with ``preset`` it fixes every byte written.
        preset: A key of :data:`PRESETS`.

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp()) / "data"
        >>> generate(root, preset="tiny")
        >>> sorted(p.name for p in root.iterdir())[:3]
        ['Books.json', 'CDs_and_Vinyl.json', 'Movies_and_TV.json']
    """
    if preset not in PRESETS:
        msg = f"unknown preset {preset!r} of the seqrec generator; known: {', '.join(PRESETS)}."
        raise ValueError(msg)
    params = PRESETS[preset]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 19, params["n_users"]]))
    names = list(DOMAINS)
    cats = [_catalogue(rng, d, n) for d, n in zip(names, params["n_items"], strict=True)]
    n_topics = len(TOPICS)
    rows: dict[int, list[str]] = {d: [] for d in range(len(names))}
    for u in range(params["n_users"]):
        taste_shared = rng.dirichlet(np.full(n_topics, 0.3))
        taste_domain = rng.dirichlet(np.full(n_topics, 0.3), size=len(names))
        active = rng.random(len(names)) < np.array([0.8, 0.7, 0.6])
        if not active.any():
            active[rng.integers(len(names))] = True
        counts = np.where(active, 5 + rng.geometric(1.0 / max(params["mean_events"] - 4, 1.0), size=len(names)), 0)
        if rng.random() < 0.03:  # a user below the 5-core threshold in one domain
            counts[int(np.flatnonzero(active)[0])] = int(rng.integers(1, 4))
        counts = np.minimum(counts, 60)
        user = f"A{u:05d}{rng.integers(1 << 20):05X}"
        for d, item, seconds in _timeline(rng, cats, taste_shared, taste_domain, counts):
            rating = int(rng.integers(3, 6))
            rows[d].append(json.dumps({"reviewerID": user, "asin": f"B{d}{item:06d}", "overall": float(rating),
                                       "unixReviewTime": seconds, "summary": "review"}))
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        for d, name in enumerate(names):
            lines = rows[d]
            lines = [lines[i] for i in rng.permutation(len(lines))]
            lines.insert(len(lines) // 2, "{not json")  # a malformed line: counted by the loader
            lines.insert(len(lines) // 3, json.dumps({"reviewerID": "A_orphan", "asin": "B_unknown",
                                                      "overall": 5.0, "unixReviewTime": _START}))
            (tmp / f"{name}.json").write_text("\n".join(lines) + "\n")
            _, _, titles, _ = cats[d]
            meta = [json.dumps({"asin": f"B{d}{i:06d}", "title": t, "categories": [[name.replace("_", " ")]]})
                    for i, t in enumerate(titles)]
            (tmp / f"meta_{name}.json").write_text("\n".join(meta) + "\n")
        (tmp / "README.txt").write_text(
            f"Synthetic multi-domain reviews in the Amazon 2018 JSON-lines layout, written by "
            f"harness.tracks.seqrec.synth (version {VERSION}, seed {seed}, preset {preset!r}).\n")
        if root.exists():
            shutil.rmtree(root)
        tmp.rename(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
