"""The loaders the prompt track's dataset cards name: EuroSAT, Oxford-IIIT Pets, the synthetic default, ImageFolder.

Each loader turns a dataset folder into a :class:`~harness.tracks.prompt.coop_layout.CoopIndex`; each lister
returns the track's subsets (the shot counts, :data:`SHOT_SUBSETS`) when the folder holds the dataset and an empty
list otherwise. The ImageFolder loader reads ``train/<class>`` and ``val/<class>`` (or ``test/``) through the
early-exit track's reader (same checks: corrupt images, empty classes) and gives it a CoOp index, so the protocol
downstream is one code path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.data import DataLayoutError
from harness.tracks.prompt.coop_layout import LAYOUTS, CoopIndex, CoopLayout, load_index

__all__ = [
    "SHOTS",
    "SHOT_SUBSETS",
    "SYNTH_LAYOUT",
    "list_subsets_coop",
    "list_subsets_image_folder",
    "load_eurosat",
    "load_image_folder",
    "load_oxford_pets",
    "load_synth",
    "shots_of",
]

#: Shots per class of the few-shot protocol (CoOp's 1, 2, 4, 8, 16).
SHOTS = (1, 2, 4, 8, 16)
#: The subsets of every dataset: one per shot count.
SHOT_SUBSETS = tuple(f"shots{k}" for k in SHOTS)
#: Layout of the synthetic default (written by :mod:`harness.tracks.prompt.synth`).
SYNTH_LAYOUT = CoopLayout("SynthObjects", "images", "synth_objects")


def shots_of(subset: str) -> int:
    """Shots per class of a subset name (``"shots4"`` -> 4).

    Raises:
        ValueError: The name is not ``shots<k>`` with ``k`` in :data:`SHOTS`.
    """
    if subset not in SHOT_SUBSETS:
        msg = f"subset of the prompt track must be one of {', '.join(SHOT_SUBSETS)}; got {subset!r}."
        raise ValueError(msg)
    return int(subset.removeprefix("shots"))


def _lister(layout: CoopLayout) -> Callable[[str | Path], list[str]]:
    """A subsets lister of ``layout``: the shot subsets when the split file is in the folder."""

    def lister(root: str | Path) -> list[str]:
        return list(SHOT_SUBSETS) if (Path(root) / layout.split_file).is_file() else []

    return lister


def load_eurosat(root: str | Path, subset: str = "shots16") -> CoopIndex:
    """EuroSAT in CoOp's layout (``2750/<Class>/*.jpg`` and ``split_zhou_EuroSAT.json``)."""
    return load_index(root, LAYOUTS["eurosat"])


def load_oxford_pets(root: str | Path, subset: str = "shots16") -> CoopIndex:
    """Oxford-IIIT Pets in CoOp's layout (``images/*.jpg`` and ``split_zhou_OxfordPets.json``)."""
    return load_index(root, LAYOUTS["oxford_pets"])


def load_synth(root: str | Path, subset: str = "shots16") -> CoopIndex:
    """The synthetic default in CoOp's layout (``images/<class>/*.png`` and ``split_zhou_SynthObjects.json``)."""
    return load_index(root, SYNTH_LAYOUT)


list_subsets_eurosat = _lister(LAYOUTS["eurosat"])
list_subsets_oxford_pets = _lister(LAYOUTS["oxford_pets"])
list_subsets_synth = _lister(SYNTH_LAYOUT)


def list_subsets_coop(root: str | Path) -> list[str]:
    """The shot subsets when ``root`` holds any split file of :data:`LAYOUTS` or of the synthetic default."""
    layouts = [*LAYOUTS.values(), SYNTH_LAYOUT]
    return list(SHOT_SUBSETS) if any((Path(root) / lay.split_file).is_file() for lay in layouts) else []


def list_subsets_image_folder(root: str | Path) -> list[str]:
    """The shot subsets when ``root`` holds ``train/`` and ``val/`` (or ``test/``)."""
    from harness.tracks.earlyexit.image_folder import list_subsets

    return list(SHOT_SUBSETS) if list_subsets(root) else []


def load_image_folder(root: str | Path, subset: str = "shots16") -> CoopIndex:
    """Any ``train/<class>``, ``val/<class>`` folder, as a CoOp index (``val`` empty; class names from folders).

    Folder names become class names with underscores read as spaces (``golden_retriever`` -> ``golden
    retriever``), since the names go into text prompts.
    """
    from harness.tracks.earlyexit.image_folder import load_index as load_folders

    index = load_folders(root, "all")
    frame = index.images
    paths, labels = {}, {}
    base = Path(root).resolve()
    for split, source in (("train", "train"), ("val", None), ("test", "test")):
        rows = frame[frame["split"] == source] if source else frame.iloc[:0]
        paths[split] = tuple(str(Path(p).resolve().relative_to(base)) for p in rows["source"])
        labels[split] = rows["label"].to_numpy(dtype=np.int64)
    if not len(paths["train"]):
        msg = f"ImageFolder dataset at {root}: train/ holds no image; sort the images into train/<class>/."
        raise DataLayoutError(msg)
    names = tuple(name.replace("_", " ") for name in index.class_names)
    return CoopIndex(base, base, names, paths, labels)
