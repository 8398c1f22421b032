"""Market-1501: the loader of its official layout, and the reader of the folder layout DukeMTMC-reID shares.

Market-1501 holds 32,668 DPM-detected boxes of 1,501 identities seen by 6 cameras on a university campus:
751 identities for training, 750 for testing (one query image per identity and camera, the rest in the
gallery), plus distractor boxes (identity ``0000``) and junk boxes (identity ``-1``) in the gallery.

Layout (``<root>``, or ``<root>/Market-1501-v15.09.15``, the folder the official archive extracts to)::

    bounding_box_train/0002_c1s1_000451_03.jpg    -> split "train"
    query/0001_c1s1_001051_00.jpg                 -> split "query"
    bounding_box_test/0000_c1s1_000151_01.jpg     -> split "gallery"

A file name reads ``<pid>_c<camera>s<sequence>_<frame>_<box>.jpg``: ``0002_c1s1_000451_03.jpg`` is identity 2
seen by camera 1 (``camid`` 0). Junk images (``-1_...``) are dropped from every split and counted (the count is
logged at INFO); distractors (``0000_...``) stay in the gallery as false matches and are dropped from train and
query. Files whose extension is not one of :data:`IMG_EXTENSIONS` (the archive ships ``Thumbs.db``) and
sub-folders are ignored; ``gt_bbox/`` and ``gt_query/`` are not read.

:class:`FolderLayout`, :func:`read_folder_layout` and :func:`folder_layout_subsets` read any dataset in this
layout; :mod:`harness.tracks.reid.duke` uses them with its own naming rule.

Reference:
    Zheng, Shen, Tian, Wang, Wang, Tian. "Scalable Person Re-identification: A Benchmark." ICCV 2015.
    http://www.liangzheng.org/Project/project_reid.html

License:
    Research use only; the images were recorded on the Tsinghua University campus.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.reid._assemble import ImageRow, assemble_index
from harness.tracks.reid._index import DISTRACTOR_ID, JUNK_ID, SPLITS, ReidIndex

__all__ = [
    "FOLDERS",
    "IMG_EXTENSIONS",
    "MARKET_1501",
    "SUBSETS",
    "FolderLayout",
    "folder_layout_subsets",
    "list_subsets",
    "load_index",
    "read_folder_layout",
]

_LOG = logging.getLogger(__name__)

#: The one subset: the whole dataset.
SUBSETS = ("all",)
#: Extensions (lower case) of the image files read; other files are ignored.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png")
#: Split -> the folder holding its images.
FOLDERS = {"train": "bounding_box_train", "query": "query", "gallery": "bounding_box_test"}


@dataclass(frozen=True)
class FolderLayout:
    """A dataset in the Market-1501 folder layout: its names, its file-naming rule and its cameras.

    Attributes:
        title: The dataset's name in messages and in :attr:`ReidIndex.name`.
        archive_dir: The folder its archive extracts to; the dataset may sit in ``<root>`` or
            ``<root>/<archive_dir>``.
        pattern: Regular expression matched against a file's stem, with the groups ``pid`` (4 digits, or
            ``-1`` for junk) and ``camera`` (the 1-based camera number).
        rule: The naming rule as messages state it: the quoted pattern, then what its fields may hold.
        example: A valid file name.
        n_cameras: The dataset's official camera count; cameras are numbered ``1..n_cameras``.
        source: Where to download it.
        placement: Where the download goes below the data root, as an example path.
    """

    title: str
    archive_dir: str
    pattern: re.Pattern[str]
    rule: str
    example: str
    n_cameras: int
    source: str
    placement: str


#: Market-1501 as a :class:`FolderLayout`.
MARKET_1501 = FolderLayout(
    title="Market-1501",
    archive_dir="Market-1501-v15.09.15",
    pattern=re.compile(r"(?P<pid>-1|\d{4})_c(?P<camera>\d+)s\d+_\d+_\d+"),
    rule="'<pid>_c<camera>s<sequence>_<frame>_<box>.jpg' (pid: 4 digits, or -1 for junk)",
    example="0002_c1s1_000451_03.jpg",
    n_cameras=6,
    source="http://www.liangzheng.org/Project/project_reid.html",
    placement="<data-root>/market1501/Market-1501-v15.09.15/bounding_box_train/",
)


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMG_EXTENSIONS and path.is_file()


def _dataset_dir(root: Path, layout: FolderLayout) -> Path | None:
    """The first of ``root`` and ``root/<archive_dir>`` that holds one of the split folders."""
    for folder in (root, root / layout.archive_dir):
        if any((folder / name).is_dir() for name in FOLDERS.values()):
            return folder
    return None


def _first_image_fits(folder: Path, layout: FolderLayout) -> bool:
    """Whether the first image file met in the split folders follows ``layout``'s naming rule (True if none)."""
    for name in FOLDERS.values():
        if not (folder / name).is_dir():
            continue
        for path in (folder / name).iterdir():
            if _is_image(path):
                return layout.pattern.fullmatch(path.stem) is not None
    return True


def folder_layout_subsets(root: str | Path, layout: FolderLayout) -> list[str]:
    """Return ``["all"]`` when ``root`` (or ``root/<archive_dir>``) holds a dataset in ``layout``, else ``[]``.

    The dataset is found when one of the split folders is there and the first image file met follows the
    layout's naming rule (so a DukeMTMC-reID folder is not taken for Market-1501). Never raises;
    :func:`read_folder_layout` checks the rest.

    Example:
        >>> folder_layout_subsets("/data/market1501", MARKET_1501)  # doctest: +SKIP
        ['all']
    """
    try:
        folder = _dataset_dir(Path(root).expanduser(), layout)
        return list(SUBSETS) if folder is not None and _first_image_fits(folder, layout) else []
    except OSError:
        return []


def _find_dataset(root: str | Path, subset: str, layout: FolderLayout) -> Path:
    """The dataset folder below ``root``; an unknown subset, an absent root or split folder are errors."""
    if subset not in SUBSETS:
        msg = f"subset of {layout.title} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        msg = (
            f"{layout.title} folder {base} does not exist. Download the dataset from {layout.source} and extract it "
            f"so that {layout.placement} exists; then pass that folder as --data-root."
        )
        raise DataMissingError(msg)
    folder = _dataset_dir(base, layout)
    folders = ", ".join(f"{name}/" for name in FOLDERS.values())
    if folder is None:
        msg = (
            f"{layout.title} at {base}: none of {folders} is in {base} or {base / layout.archive_dir}. Extract the "
            f"archive from {layout.source} so that {layout.placement} exists."
        )
        raise DataMissingError(msg)
    for name in FOLDERS.values():
        if not (folder / name).is_dir():
            msg = (
                f"{layout.title} at {folder}: folder {name}/ is missing; the dataset needs {folders} side by side "
                f"in one folder. Re-extract the archive from {layout.source}."
            )
            raise DataMissingError(msg)
    return folder


def _parse(path: Path, split: str, layout: FolderLayout, where: str) -> ImageRow | str:
    """One image file as a row, or why it is skipped: ``"junk"``, or ``"distractor"`` outside the gallery."""
    shown = f"{FOLDERS[split]}/{path.name}"
    match = layout.pattern.fullmatch(path.stem)
    if match is None:
        msg = (
            f"{where}: file name {shown} must read {layout.rule}, e.g. '{layout.example}'; got {path.name!r}. "
            f"Rename or remove the file."
        )
        raise DataLayoutError(msg)
    pid, camera = int(match["pid"]), int(match["camera"])
    if not 1 <= camera <= layout.n_cameras:
        msg = (
            f"{where}: file {shown} names camera c{camera}; {layout.title} has cameras c1..c{layout.n_cameras}. "
            "Remove the file or fix its camera number."
        )
        raise DataLayoutError(msg)
    if pid == JUNK_ID:
        return "junk"
    if pid == DISTRACTOR_ID and split != "gallery":
        return "distractor"
    return ImageRow(split=split, path=path, shown=shown, pid=pid, camid=camera - 1)


def read_folder_layout(root: str | Path, subset: str, layout: FolderLayout) -> ReidIndex:
    """Index a dataset in the Market-1501 folder layout after checking its file names and pairing.

    Args:
        root: The folder holding the split folders, or its parent holding ``<archive_dir>/``.
        subset: ``"all"``, the only subset.
        layout: The dataset's names, naming rule and cameras.

    Returns:
        The index (see :class:`ReidIndex`); junk ``-1`` images dropped, distractors ``0`` kept in the gallery
        only, ``camid`` = camera number - 1, ``n_cameras`` = ``layout.n_cameras``.

    Raises:
        DataMissingError: ``root`` or a split folder is not on disk.
        DataLayoutError: The subset is unknown; an image's name breaks the naming rule or names a camera outside
            ``1..n_cameras``; the query folder holds no image; a query identity has no gallery image. The message
            names the file relative to the dataset folder.

    Example:
        >>> index = read_folder_layout("/data/market1501", "all", MARKET_1501)  # doctest: +SKIP
        >>> index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        {'gallery': 15913, 'query': 3368, 'train': 12936}
    """
    folder = _find_dataset(root, subset, layout)
    where = f"{layout.title} at {folder}"
    rows: list[ImageRow] = []
    skipped = {"junk": 0, "distractor": 0}
    for split in SPLITS:
        for path in sorted((folder / FOLDERS[split]).iterdir()):
            if not _is_image(path):
                continue
            row = _parse(path, split, layout, where)
            if isinstance(row, str):
                skipped[row] += 1
            else:
                rows.append(row)
    if any(skipped.values()):
        _LOG.info(
            "%s: skipped %d junk images (identity -1) and %d distractors outside the gallery (identity 0000)",
            where,
            skipped["junk"],
            skipped["distractor"],
        )
    sources = {split: f"{name}/" for split, name in FOLDERS.items()}
    return assemble_index(layout.title, rows, layout.n_cameras, sources=sources, where=where)


def list_subsets(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` (or ``root/Market-1501-v15.09.15``) holds Market-1501, else ``[]``.

    Never raises, whatever ``root`` holds; :func:`load_index` checks the rest of the layout.

    Example:
        >>> list_subsets("/data/market1501")  # doctest: +SKIP
        ['all']
    """
    return folder_layout_subsets(root, MARKET_1501)


def load_index(root: str | Path, subset: str = "all") -> ReidIndex:
    """Index Market-1501 after checking its layout (see :func:`read_folder_layout` for what is checked).

    Args:
        root: The folder holding ``bounding_box_train/``, ``query/`` and ``bounding_box_test/``, or its parent
            holding ``Market-1501-v15.09.15/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index: train, query and gallery rows, each sorted by file name; ``n_cameras`` 6.

    Raises:
        DataMissingError: ``root`` or a split folder is not on disk.
        DataLayoutError: A file name is malformed or names a camera above c6; the query folder is empty; a query
            identity has no gallery image.

    Example:
        >>> index = load_index("/data/market1501")  # doctest: +SKIP
        >>> index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        {'gallery': 15913, 'query': 3368, 'train': 12936}
    """
    return read_folder_layout(root, subset, MARKET_1501)
