"""Dataset cards: the TOML files in ``datasets/``, and where each dataset lives on disk.

A card states what a dataset is (title, source, license, citation), how it is read (``loader``,
``subsets_lister``), what it holds (splits, subsets, expected counts), where a download goes
(``placement``), and, for the embedded synthetic stand-ins, which ``generator`` writes it in the
same official layout. The engine reads cards only through :func:`load_card`.

Data location: ``--data-root PATH``, else ``$PARBENCH_DATA``, else ``~/.cache/parbench/data``.
A real dataset lives in ``<data-root>/<name>`` (or ``--data-root`` may be that folder itself);
a synthetic one is generated on first use into ``<data-root>/<name>/v<VERSION>-seed<seed>``.
What a track derives from a dataset (the fedrec track's split, the earlyexit track's trained backbones) goes
into the cache of derived files (:mod:`harness.cache`), never into the dataset's folder. Earlier versions kept the
backbones in the folder's :data:`CACHE_FOLDER`; the fingerprint still leaves that folder out, so a dataset folder
that holds one keeps its fingerprint.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.errors import CardError, DatasetNotFoundError, ResultsError
from harness.registry import closest_names_error, load_target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CACHE_FOLDER",
    "CARDS_DIR",
    "DATA_ENV",
    "DatasetCard",
    "card_names",
    "dataset_fingerprint",
    "default_data_root",
    "load_card",
    "resolve_dataset",
]

def _cards_dir() -> Path:
    """The installed wheel's cards (``harness/_cards``), else the checkout's ``datasets/`` folder."""
    packaged = Path(__file__).resolve().parent / "_cards"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "datasets"


#: Folder holding the dataset cards.
CARDS_DIR = _cards_dir()
#: Environment variable naming the data root.
DATA_ENV = "PARBENCH_DATA"
#: Folder inside a dataset folder where earlier versions cached what a track derived from it (nothing writes it
#: now: see :mod:`harness.cache`); left out of the fingerprint, so such a folder keeps its fingerprint.
CACHE_FOLDER = ".parbench-cache"


@dataclass(frozen=True)
class DatasetCard:
    """One dataset card (``datasets/<name>.toml``); every field without a default is required."""

    name: str
    title: str
    track: str
    loader: str
    subsets_lister: str
    source: str
    license: str
    citation: str
    main_score: str
    splits: tuple[str, ...]
    subsets: tuple[str, ...]
    placement: str
    description: str
    generator: str = ""
    generator_params: dict[str, Any] = field(default_factory=dict)
    expected_counts: dict[str, Any] = field(default_factory=dict)
    #: Interaction data: False when the files record no time of interaction (Lastfm-2K's ``user_artists.dat``);
    #: the fedrec track then holds out random items instead of the last ones (:mod:`harness.tracks.fedrec.split`).
    timestamps: bool = True

    @property
    def synthetic(self) -> bool:
        """True for a stand-in written by a generator."""
        return bool(self.generator)


_OPTIONAL = ("generator", "generator_params", "expected_counts", "timestamps")
_REQUIRED = [f.name for f in fields(DatasetCard) if f.name not in _OPTIONAL]


def card_names() -> list[str]:
    """Return the names of every card in :data:`CARDS_DIR`, sorted."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.toml"))


def load_card(name: str, *, cards_dir: Path | None = None) -> DatasetCard:
    """Read and check ``<cards_dir>/<name>.toml``.

    Raises:
        UnknownNameError: No such card; lists the close names.
        CardError: A key is unknown, missing or unfilled; names the key and the file.
    """
    folder = cards_dir or CARDS_DIR
    path = folder / f"{name}.toml"
    if not path.is_file():
        error = closest_names_error("dataset", name, sorted(p.stem for p in folder.glob("*.toml")))
        raise error
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: not valid TOML: {exc}."
        raise CardError(msg) from exc
    allowed = {f.name for f in fields(DatasetCard)}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        msg = f"{path}: key {unknown[0]!r} is not allowed; allowed keys: {', '.join(sorted(allowed))}."
        raise CardError(msg)
    for key in _REQUIRED:
        value = raw.get(key)
        if value is None or value == "" or value == []:
            msg = f"{path}: required key {key!r} is missing or empty; fill it in (see datasets/README.md)."
            raise CardError(msg)
    if raw["name"] != name:
        msg = f"{path}: name {raw['name']!r} must equal the file stem {name!r}."
        raise CardError(msg)
    if not isinstance(raw.get("timestamps", True), bool):
        msg = f"{path}: key 'timestamps' must be true or false; got {raw['timestamps']!r}."
        raise CardError(msg)
    raw["splits"] = tuple(raw["splits"])
    raw["subsets"] = tuple(raw["subsets"])
    return DatasetCard(**raw)


def default_data_root() -> Path:
    """Return ``$PARBENCH_DATA`` or ``~/.cache/parbench/data``."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "parbench" / "data"


def _generate(card: DatasetCard, target: Path) -> None:
    generator = load_target(card.generator)
    params = dict(card.generator_params)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        generator(target, **params)
    except OSError as exc:
        msg = f"cannot write the synthetic dataset {card.name!r} to {target}: {exc}. Pass a writable --data-root."
        raise ResultsError(msg) from exc


def resolve_dataset(card: DatasetCard, data_root: Path | None = None) -> Path:
    """Return the folder of ``card``'s dataset, generating a synthetic one on first use.

    Args:
        card: The dataset card.
        data_root: ``--data-root``; ``None`` means :func:`default_data_root`.

    Raises:
        DatasetNotFoundError: A real dataset is not on disk; says where to get it and where to put it.
    """
    root = Path(data_root).expanduser() if data_root else default_data_root()
    if card.synthetic:
        generator_module = load_target(card.generator.partition(":")[0])
        version = getattr(generator_module, "VERSION", "0")
        seed = card.generator_params.get("seed", 0)
        target = root / card.name / f"v{version}-seed{seed}"
        if not target.is_dir():
            _generate(card, target)
        return target
    for candidate in (root / card.name, root):
        if candidate.is_dir() and _has_subsets(card, candidate):
            return candidate
    msg = (
        f"dataset {card.name!r} ({card.title}) is not in {root / card.name}. "
        f"Download it from {card.source} (license: {card.license}) and place it as {card.placement}; "
        f"or point --data-root (or ${DATA_ENV}) at the folder that holds it."
    )
    raise DatasetNotFoundError(msg)


def _has_subsets(card: DatasetCard, folder: Path) -> bool:
    try:
        return bool(load_target(card.subsets_lister)(folder))
    except (OSError, ValueError):
        return False


def dataset_fingerprint(folder: Path) -> str:
    """Hash the relative path and size of every file under ``folder`` (fast, content-blind).

    Files under :data:`CACHE_FOLDER` (where earlier versions kept what tracks derived from the data) do not count.

    Returns:
        16 hex characters; identical folders give identical fingerprints on any machine.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.split("/", 1)[0] == CACHE_FOLDER:
            continue
        digest.update(f"{rel}\0{path.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]
