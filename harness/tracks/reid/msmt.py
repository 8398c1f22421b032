"""MSMT17: the loader of its official layout (image folders and list files), V1 or V2.

MSMT17 holds 126,441 boxes of 4,101 identities seen by 15 cameras (12 outdoor, 3 indoor) on a university
campus: 32,621 training images of 1,041 identities (list_train.txt and list_val.txt together) and, for the
3,060 test identities, 11,659 query and 82,161 gallery images.

Layout (``<root>``, or ``<root>/MSMT17_V1`` or ``<root>/MSMT17_V2``, the folders the archives extract to)::

    train/0000/0000_000_01_0303morning_0015_0.jpg     V2: mask_train_v2/ instead of train/
    test/0000/0000_000_01_0303morning_0008_1.jpg      V2: mask_test_v2/ instead of test/
    list_train.txt  list_val.txt                      -> split "train" (images under train/)
    list_query.txt                                    -> split "query" (images under test/)
    list_gallery.txt                                  -> split "gallery" (images under test/)

Each line of a list file reads ``<path under the image folder> <pid>``, e.g.
``0000/0000_000_01_0303morning_0015_0.jpg 0``. The camera is the third ``_`` field of the file name (``01`` to
``15``; ``camid`` = camera - 1). Blank lines are skipped.

Identities: MSMT17 has no distractors, and its list files number identities from 0, so identity 0 is a real
person there. The index stores ``pid = listed pid + 1`` (:data:`PID_OFFSET`) in every split, so that
``DISTRACTOR_ID`` (0) never appears; training and test identities are both numbered from 1 and are different
people.

Reference:
    Wei, Zhang, Gao, Tian. "Person Transfer GAN to Bridge Domain Gap for Person Re-Identification." CVPR 2018.
    http://www.pkuvmc.com/publications/msmt17.html

License:
    Research use only, under the release agreement the authors ask users to sign before they send the archive.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.reid._assemble import ImageRow, assemble_index
from harness.tracks.reid._index import SPLITS, ReidIndex
from harness.tracks.reid.market import IMG_EXTENSIONS, SUBSETS

__all__ = [
    "ARCHIVE_DIRS",
    "IMAGE_DIRS",
    "LIST_FILES",
    "N_CAMERAS",
    "PID_OFFSET",
    "SUBSETS",
    "list_subsets",
    "load_index",
]

#: Split -> the list files of its images.
LIST_FILES = {
    "train": ("list_train.txt", "list_val.txt"),
    "query": ("list_query.txt",),
    "gallery": ("list_gallery.txt",),
}
#: Split -> the folder its list paths are relative to: the MSMT17_V1 name, then the MSMT17_V2 name.
IMAGE_DIRS = {
    "train": ("train", "mask_train_v2"),
    "query": ("test", "mask_test_v2"),
    "gallery": ("test", "mask_test_v2"),
}
#: Folders the V1 and V2 archives extract to.
ARCHIVE_DIRS = ("MSMT17_V1", "MSMT17_V2")
#: Added to every listed pid, so that identity 0 of the list files does not read as a distractor.
PID_OFFSET = 1
#: Cameras are numbered ``1..N_CAMERAS`` in the file names.
N_CAMERAS = 15
TITLE = "MSMT17"
SOURCE = "http://www.pkuvmc.com/publications/msmt17.html"
PLACEMENT = "<data-root>/msmt17/MSMT17_V1/list_train.txt"
_ALL_LISTS = tuple(name for split in SPLITS for name in LIST_FILES[split])
_EXAMPLE = "0000/0000_000_01_0303morning_0015_0.jpg 0"


def _dataset_dir(root: Path) -> Path | None:
    """The first of ``root``, ``root/MSMT17_V1`` and ``root/MSMT17_V2`` that holds one of the list files."""
    for folder in (root, *(root / name for name in ARCHIVE_DIRS)):
        if any((folder / name).is_file() for name in _ALL_LISTS):
            return folder
    return None


def list_subsets(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` (or ``root/MSMT17_V1``, ``root/MSMT17_V2``) holds a list file, else ``[]``.

    Never raises, whatever ``root`` holds; :func:`load_index` checks the rest of the layout.

    Example:
        >>> list_subsets("/data/msmt17")  # doctest: +SKIP
        ['all']
    """
    try:
        return list(SUBSETS) if _dataset_dir(Path(root).expanduser()) is not None else []
    except OSError:
        return []


def _find_dataset(root: str | Path, subset: str) -> Path:
    """The dataset folder below ``root``; an unknown subset, an absent root or list file are errors."""
    if subset not in SUBSETS:
        msg = f"subset of {TITLE} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        msg = (
            f"{TITLE} folder {base} does not exist. Request the dataset from {SOURCE} and extract it so that "
            f"{PLACEMENT} exists (or MSMT17_V2/ in place of MSMT17_V1/); then pass that folder as --data-root."
        )
        raise DataMissingError(msg)
    folder = _dataset_dir(base)
    if folder is None:
        msg = (
            f"{TITLE} at {base}: none of {', '.join(_ALL_LISTS)} is in {base}, {base / ARCHIVE_DIRS[0]} or "
            f"{base / ARCHIVE_DIRS[1]}. Extract the archive from {SOURCE} so that {PLACEMENT} exists."
        )
        raise DataMissingError(msg)
    for name in _ALL_LISTS:
        if not (folder / name).is_file():
            msg = (
                f"{TITLE} at {folder}: list file {name} is missing; the dataset needs {', '.join(_ALL_LISTS)} "
                "beside its image folders. Re-extract the archive."
            )
            raise DataMissingError(msg)
    return folder


def _image_dir(folder: Path, split: str, where: str) -> Path:
    """The image folder of ``split``: the V1 name, else the V2 name."""
    for name in IMAGE_DIRS[split]:
        if (folder / name).is_dir():
            return folder / name
    v1, v2 = IMAGE_DIRS[split]
    lists = " and ".join(LIST_FILES[split])
    msg = (
        f"{where}: image folder {v1}/ (MSMT17_V1; {v2}/ in MSMT17_V2) is missing; the paths of {lists} are "
        "relative to it. Re-extract the archive."
    )
    raise DataMissingError(msg)


def _parse_line(line: str, name: str, number: int, image_dir: str, where: str) -> tuple[PurePosixPath, int, int]:
    """(path under the image folder, listed pid, camera number) of one list line."""
    parts = line.split()
    fields = PurePosixPath(parts[0]).stem.split("_") if parts else []
    well_formed = (
        len(parts) == 2
        and parts[1].isdigit()
        and not parts[0].startswith("/")
        and "\\" not in parts[0]
        and ".." not in PurePosixPath(parts[0]).parts
        and PurePosixPath(parts[0]).suffix.lower() in IMG_EXTENSIONS
        and len(fields) >= 3
        and fields[2].isdigit()
    )
    if not well_formed:
        msg = (
            f"{where}: {name} line {number} must read '<path under {image_dir}/> <pid>', e.g. '{_EXAMPLE}', with "
            f"the camera as the third '_' field of the file name; got {line.strip()!r}. Fix the line or "
            "re-extract the file."
        )
        raise DataLayoutError(msg)
    camera = int(fields[2])
    if not 1 <= camera <= N_CAMERAS:
        msg = (
            f"{where}: {name} line {number}: image {image_dir}/{parts[0]} names camera {fields[2]} (third '_' field "
            f"of the file name); {TITLE} has cameras 01..{N_CAMERAS}. Fix the line or re-extract the file."
        )
        raise DataLayoutError(msg)
    return PurePosixPath(parts[0]), int(parts[1]), camera


def _read_list(folder: Path, name: str, where: str) -> list[tuple[int, str]]:
    """(line number, line) of the non-blank lines of one list file."""
    try:
        text = (folder / name).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{where}: {name} is not UTF-8 text ({exc}); re-extract it from the dataset archive."
        raise DataLayoutError(msg) from exc
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _read_split(folder: Path, split: str, where: str, seen: dict[Path, str]) -> list[ImageRow]:
    """Rows of one split from its list files; ``seen`` (path -> where it was listed) catches repeated images."""
    image_dir = _image_dir(folder, split, where)
    rows: list[ImageRow] = []
    missing: list[str] = []
    for name in LIST_FILES[split]:
        for number, line in _read_list(folder, name, where):
            rel, pid, camera = _parse_line(line, name, number, image_dir.name, where)
            path = image_dir / rel
            listed_at = f"{name} line {number}"
            if path in seen:
                msg = (
                    f"{where}: {listed_at} lists {image_dir.name}/{rel} again ({seen[path]}); each image belongs to "
                    "one split and is listed once. Remove the duplicate line."
                )
                raise DataLayoutError(msg)
            seen[path] = listed_at
            shown = f"{image_dir.name}/{rel} ({listed_at})"
            if not path.is_file():
                missing.append(shown)
            rows.append(ImageRow(split=split, path=path, shown=shown, pid=pid + PID_OFFSET, camid=camera - 1))
    if missing:
        msg = (
            f"{where}: image {missing[0]} is not on disk ({len(missing)} of {len(rows)} images listed for the "
            f"{split} split are missing). Restore the files from the dataset archive."
        )
        raise DataMissingError(msg)
    return rows


def load_index(root: str | Path, subset: str = "all") -> ReidIndex:
    """Index MSMT17 (V1 or V2) after checking its list files and that every listed image is on disk.

    Args:
        root: The folder holding the list files and image folders, or its parent holding ``MSMT17_V1/`` or
            ``MSMT17_V2/``.
        subset: ``"all"``, the only subset.

    Returns:
        The index: train (list_train.txt + list_val.txt), query and gallery rows, each sorted by file name;
        ``pid`` = listed pid + 1 (so no row has the distractor id 0), ``camid`` = camera - 1, ``n_cameras`` 15.

    Raises:
        DataMissingError: ``root``, a list file, an image folder or a listed image is not on disk.
        DataLayoutError: The subset is unknown; a line is malformed, names a camera outside 01..15 or repeats an
            image; the query list is empty; a query identity has no gallery image. The message names the list
            file and the line.

    Example:
        >>> index = load_index("/data/msmt17")  # doctest: +SKIP
        >>> index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        {'gallery': 82161, 'query': 11659, 'train': 32621}
    """
    folder = _find_dataset(root, subset)
    where = f"{TITLE} at {folder}"
    seen: dict[Path, str] = {}
    rows = [row for split in SPLITS for row in _read_split(folder, split, where, seen)]
    sources = {split: " + ".join(LIST_FILES[split]) for split in SPLITS}
    return assemble_index(TITLE, rows, N_CAMERAS, sources=sources, where=where)
