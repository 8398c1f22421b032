"""Any image-classification dataset in the ImageFolder layout: one folder per class, in a training and a val folder.

This is the layout of Imagenette and Imagewoof (as extracted), of torchvision's ``ImageFolder``, and the one
Food-101 or the ImageNet validation set take once their images are sorted into class folders::

    <root>/train/<class>/<image>.jpg        e.g. train/n01440764/n01440764_10026.JPEG
    <root>/val/<class>/<image>.jpg          e.g. val/n01440764/ILSVRC2012_val_00009111.JPEG

The folder names are the class names; labels are their ranks in sorted order (as in torchvision). ``val/`` is
read as the test split (Imagenette and ImageNet publish no labelled test set); a dataset with ``test/`` instead
of ``val/`` loads the same way. Image files end in one of :data:`IMG_EXTENSIONS` (any case); hidden files and
folders and files with other extensions are ignored. Every image header is read once when indexing (about
0.1 ms per image from a warm disk cache, on a thread pool), so a truncated or foreign file is reported before
any training starts.

Reference (Imagenette): Howard. "Imagenette: a smaller subset of 10 easily classified classes from Imagenet."
https://github.com/fastai/imagenette, 2019.

License:
    That of the images you bring (Imagenette: the ImageNet terms of access; Food-101: the images' own terms,
    research use).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data import DataLayoutError, DataMissingError, image_shape
from harness.tracks.earlyexit._index import INDEX_COLUMNS, ImageClassIndex

__all__ = ["EVAL_DIRS", "IMG_EXTENSIONS", "SUBSETS", "TRAIN_DIR", "list_subsets", "load_index"]

#: The one subset: the whole dataset.
SUBSETS = ("all",)
#: Folder of the training images.
TRAIN_DIR = "train"
#: Folder of the images a track scores on: ``val/``, or ``test/`` where there is no ``val/``.
EVAL_DIRS = ("val", "test")
#: Accepted extensions of image files, compared in lower case.
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
TITLE = "ImageFolder dataset"
_HOW = (
    "Arrange the images as <root>/train/<class>/<image>.jpg and <root>/val/<class>/<image>.jpg (Imagenette: "
    "extract imagenette2-320.tgz from https://github.com/fastai/imagenette and rename its folder), then pass "
    "<root> as --data-root."
)
_HEADER_WORKERS = 8


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMG_EXTENSIONS and _visible(path) and path.is_file()


def _eval_dir(base: Path) -> Path | None:
    present = [base / name for name in EVAL_DIRS if (base / name).is_dir()]
    return present[0] if present else None


def list_subsets(root: str | Path) -> list[str]:
    """Return ``["all"]`` when ``root`` holds ``train/`` and ``val/`` (or ``test/``), else ``[]``; never raises.

    Example:
        >>> list_subsets("/nonexistent")
        []
    """
    try:
        base = Path(root).expanduser()
        return list(SUBSETS) if (base / TRAIN_DIR).is_dir() and _eval_dir(base) is not None else []
    except OSError:
        return []


def _class_files(split_dir: Path, base: Path, where: str) -> dict[str, list[Path]]:
    """Class folder name -> its image files (sorted); an empty class or a loose image is an error."""
    loose = sorted(p for p in split_dir.iterdir() if _is_image(p))
    if loose:
        rel = loose[0].relative_to(base).as_posix()
        msg = (
            f"{where}: image {rel} lies directly in {split_dir.name}/ ({len(loose)} such images); every image "
            f"belongs in a class folder {split_dir.name}/<class>/. Sort the images into class folders (for the "
            "ImageNet validation set, by the labels of the devkit's ground-truth file)."
        )
        raise DataLayoutError(msg)
    classes: dict[str, list[Path]] = {}
    for folder in sorted(p for p in split_dir.iterdir() if p.is_dir() and _visible(p)):
        entries = list(folder.iterdir())
        files = sorted(p for p in entries if _is_image(p))
        if not files:
            rel = folder.relative_to(base).as_posix()
            msg = (
                f"{where}: class folder {rel}/ is an empty class: it holds no image file ({len(entries)} other "
                f"entries; accepted extensions: {', '.join(IMG_EXTENSIONS)}). Add its images or remove the folder."
            )
            raise DataLayoutError(msg)
        classes[folder.name] = files
    if not classes:
        msg = f"{where}: {split_dir.name}/ holds no class folder. {_HOW}"
        raise DataLayoutError(msg)
    return classes


def _check_headers(paths: list[Path], base: Path, where: str) -> None:
    """Read every image header on a thread pool; the first unreadable file (in index order) raises."""

    def _one(path: Path) -> DataLayoutError | None:
        try:
            image_shape(path)
        except DataLayoutError as exc:
            return exc
        return None

    workers = min(_HEADER_WORKERS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(_one, paths))
    for path, error in zip(paths, results, strict=True):
        if error is not None:
            cause = error.__cause__
            reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(error)
            msg = (
                f"{where}: image {path.relative_to(base).as_posix()} cannot be read ({reason}); the file is "
                "truncated, corrupt or not an image. Replace it from the dataset archive or delete it."
            )
            raise DataLayoutError(msg) from error


def load_index(root: str | Path, subset: str = "all", *, check_images: bool = True) -> ImageClassIndex:
    """Index an ImageFolder dataset after checking its layout and, by default, every image header.

    Args:
        root: The folder holding ``train/`` and ``val/`` (or ``test/``).
        subset: ``"all"``, the only subset.
        check_images: Read every image header (a truncated or foreign file is then an error here, not in the
            middle of a run). Pass False only for a dataset already checked.

    Returns:
        The index without pixels (``pixels`` is None; :meth:`ImageClassIndex.read` decodes the files): training
        rows, then ``val/`` rows as split ``"test"``, each sorted by class folder then file name; ``source`` is
        the absolute path of the file.

    Raises:
        DataMissingError: ``root``, ``train/`` or both of ``val/`` and ``test/`` are not on disk.
        DataLayoutError: ``root`` holds both ``val/`` and ``test/``; a split folder has no class folder or an
            image outside class folders; a class folder holds no image (an empty class); a class of ``val/`` is
            not a class of ``train/``; an image header cannot be read. The message names the folder or file.

    Example:
        >>> index = load_index("/data/imagenette")  # doctest: +SKIP
        >>> index.n_classes, index.images.groupby("split").size().to_dict()  # doctest: +SKIP
        (10, {'test': 3925, 'train': 9469})
    """
    if subset not in SUBSETS:
        msg = f"subset of {TITLE} must be one of {', '.join(SUBSETS)}; got {subset!r}."
        raise DataLayoutError(msg)
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        msg = f"{TITLE} folder {base} does not exist. {_HOW}"
        raise DataMissingError(msg)
    where = f"{TITLE} at {base}"
    if not (base / TRAIN_DIR).is_dir():
        msg = f"{where}: folder {TRAIN_DIR}/ is missing. {_HOW}"
        raise DataMissingError(msg)
    present = [name for name in EVAL_DIRS if (base / name).is_dir()]
    if not present:
        msg = f"{where}: folder val/ (or test/) is missing. {_HOW}"
        raise DataMissingError(msg)
    if len(present) > 1:
        msg = f"{where}: holds both val/ and test/; the test split is read from one of them. Keep one, move the other."
        raise DataLayoutError(msg)
    train = _class_files(base / TRAIN_DIR, base, where)
    test = _class_files(base / present[0], base, where)
    class_names = tuple(train)
    unknown = [name for name in test if name not in train]
    if unknown:
        msg = (
            f"{where}: class folder {present[0]}/{unknown[0]}/ has no counterpart {TRAIN_DIR}/{unknown[0]}/ "
            f"({len(unknown)} such classes); the classes of {present[0]}/ must be classes of {TRAIN_DIR}/ (folder "
            "names are the class names). Rename the folder to its training class or remove it."
        )
        raise DataLayoutError(msg)
    label = {name: i for i, name in enumerate(class_names)}
    records = [
        (split, label[name], path)
        for split, classes in (("train", train), ("test", test))
        for name, files in classes.items()
        for path in files
    ]
    if check_images:
        _check_headers([path for _, _, path in records], base, where)
    images = pd.DataFrame({
        "image_id": np.arange(len(records), dtype=np.int64),
        "split": [r[0] for r in records],
        "label": np.asarray([r[1] for r in records], dtype=np.int64),
        "source": [str(r[2]) for r in records],
    }, columns=list(INDEX_COLUMNS))
    return ImageClassIndex(class_names, images)
