"""MVTec AD: the loader of its official folder layout.

MVTec AD has 15 categories (5 textures, 10 objects) of industrial images; training images are all
defect-free, test images are good or show one of 73 defect types, each with a pixel-exact mask.
The embedded synthetic default (:mod:`harness.tracks.anomaly.synth`) is written in this same
layout, so this loader reads both.

Layout of one category (``<root>/<category>``)::

    train/good/000.png ...
    test/good/000.png ...
    test/<defect>/000.png ...
    ground_truth/<defect>/000_mask.png ...   masks at image resolution, 0 = good, 255 = defect

Reference:
    Bergmann, Fauser, Sattlegger, Steger. "MVTec AD - A Comprehensive Real-World Dataset for
    Unsupervised Anomaly Detection." CVPR 2019. https://www.mvtec.com/company/research/datasets/mvtec-ad

License:
    The dataset is released under CC BY-NC-SA 4.0 (non-commercial use).

Index columns (see :mod:`harness.data`): ``split`` ("train" | "test"), ``label`` (0 | 1),
``defect``, ``image_path``, ``mask_path`` ("" for good images); rows sorted by (split, image_path).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.data.errors import DataLayoutError
from harness.tracks.anomaly._layout import (
    category_dir,
    check_pairs,
    list_files,
    make_index,
    resolve_root,
    subfolders,
)

__all__ = ["CATEGORIES", "IMG_EXTENSIONS", "SPLITS", "list_subsets", "load_index"]

#: The 15 official categories.
CATEGORIES = (
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
)
#: Accepted image extensions (compared lower-case).
IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
#: Accepted mask extensions (compared lower-case).
MASK_EXTENSIONS = (".png",)
#: Splits of the index.
SPLITS = ("train", "test")
#: Defect folder name of defect-free images.
GOOD = "good"
#: Suffix that turns an image stem into its mask's stem.
MASK_SUFFIX = "_mask"

TITLE = "MVTec AD"
SOURCE = "https://www.mvtec.com/company/research/datasets/mvtec-ad"
PLACEMENT = "<data-root>/mvtec_ad/<category>/train/good/000.png"


def list_subsets(root: str | Path) -> list[str]:
    """Return the categories present in ``root``: subfolders that hold a ``train`` or ``test`` folder.

    Args:
        root: Folder that contains the category folders.

    Returns:
        Sorted category names (may be empty).

    Example:
        >>> list_subsets("/data/mvtec_ad")  # doctest: +SKIP
        ['bottle', 'cable', ...]
    """
    path = Path(root).expanduser()
    if not path.is_dir():
        return []
    return [p.name for p in subfolders(path) if (p / "train").is_dir() or (p / "test").is_dir()]


def _images_of(folder: Path, where: str, base: Path) -> list[Path]:
    files = list_files(folder, IMG_EXTENSIONS, where, base)
    if not files:
        rel = folder.relative_to(base).as_posix()
        msg = f"{where}: folder {rel} holds no image ({', '.join(IMG_EXTENSIONS)}); fill it or remove it."
        raise DataLayoutError(msg)
    return files


def _train_images(cat: Path, where: str) -> list[Path]:
    train = cat / "train"
    good = train / GOOD
    if not good.is_dir():
        msg = (
            f"{where}: folder train/{GOOD} is missing; training images go in train/{GOOD}/, e.g. train/{GOOD}/000.png."
        )
        raise DataLayoutError(msg)
    others = [p.name for p in subfolders(train) if p.name != GOOD]
    if others:
        msg = (
            f"{where}: folder train/{others[0]} is not allowed; MVTec AD trains on good images only, "
            f"in train/{GOOD}/. Move the folder out of train/."
        )
        raise DataLayoutError(msg)
    return _images_of(good, where, cat)


def _mask_of(image: Path, cat: Path, masks: dict[str, Path], where: str) -> Path:
    key = f"{image.parent.name}/{image.stem}{MASK_SUFFIX}"
    if key not in masks:
        rel = image.relative_to(cat).as_posix()
        msg = (
            f"{where}: image {rel} has no mask ground_truth/{key}.png; every defective image needs a "
            f"mask that shares its stem, e.g. test/crack/003.png -> ground_truth/crack/003{MASK_SUFFIX}.png."
        )
        raise DataLayoutError(msg)
    return masks.pop(key)


def _mask_files(cat: Path, where: str) -> dict[str, Path]:
    truth = cat / "ground_truth"
    masks: dict[str, Path] = {}
    if not truth.is_dir():
        return masks
    for folder in subfolders(truth):
        if folder.name == GOOD:
            continue
        for path in list_files(folder, MASK_EXTENSIONS, where, cat):
            masks[f"{folder.name}/{path.stem}"] = path
    return masks


def load_index(root: str | Path, subset: str) -> pd.DataFrame:
    """Index one MVTec AD category after checking its layout.

    Every image and mask header is read to check that it decodes and that each mask has its
    image's size (a few milliseconds per hundred files; pixels are not decoded).

    Args:
        root: Folder that contains the category folders.
        subset: Category, e.g. ``"bottle"``.

    Returns:
        Index frame with the columns split, label, defect, image_path, mask_path (see the module
        docstring), sorted by (split, image_path).

    Raises:
        DataMissingError: ``root`` or the category folder does not exist.
        DataLayoutError: The layout is broken (empty category, no train/good, a defective image
            without a mask, a mask without an image, a mask whose size differs from its image,
            an unreadable image); the message names the file.

    Example:
        >>> index = load_index("/data/mvtec_ad", "bottle")  # doctest: +SKIP
        >>> index.groupby("split").size().to_dict()  # doctest: +SKIP
        {'test': 83, 'train': 209}
    """
    base = resolve_root(root, TITLE, SOURCE, PLACEMENT)
    cat = category_dir(base, subset, TITLE, list_subsets(base))
    where = f"{TITLE} at {cat}"
    if not (cat / "train").is_dir() and not (cat / "test").is_dir():
        msg = (
            f"{where}: the category is empty (no train/ or test/ folder); extract the category so that "
            f"{subset}/train/{GOOD}/000.png exists."
        )
        raise DataLayoutError(msg)
    records = []
    images: list[Path] = []
    pair_masks: list[Path | None] = []
    for path in _train_images(cat, where):
        records.append({"split": "train", "label": 0, "defect": GOOD, "image_path": str(path), "mask_path": ""})
        images.append(path)
        pair_masks.append(None)
    test = cat / "test"
    if not test.is_dir():
        msg = f"{where}: folder test/ is missing; test images go in test/<defect>/, e.g. test/{GOOD}/000.png."
        raise DataLayoutError(msg)
    masks = _mask_files(cat, where)
    for folder in subfolders(test):
        for path in _images_of(folder, where, cat):
            defect = folder.name
            mask = None if defect == GOOD else _mask_of(path, cat, masks, where)
            records.append(
                {
                    "split": "test",
                    "label": int(defect != GOOD),
                    "defect": defect,
                    "image_path": str(path),
                    "mask_path": "" if mask is None else str(mask),
                }
            )
            images.append(path)
            pair_masks.append(mask)
    if masks:
        key = sorted(masks)[0]
        defect, _, stem = key.partition("/")
        image_stem = stem[: -len(MASK_SUFFIX)] if stem.endswith(MASK_SUFFIX) else stem
        msg = (
            f"{where}: mask ground_truth/{key}{masks[key].suffix} has no image test/{defect}/{image_stem}.png; "
            f"masks share their image's stem plus '{MASK_SUFFIX}'. Remove the mask or restore the image."
        )
        raise DataLayoutError(msg)
    check_pairs(images, pair_masks, where, cat)
    return make_index(records)
