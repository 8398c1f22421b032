"""MVTec 3D-AD: the loader of its official folder layout (RGB images, masks, point clouds).

MVTec 3D-AD has 10 categories of objects scanned with a structured-light sensor; every sample is an
RGB image plus an organized point cloud (a 3-channel float32 TIFF of x, y, z per pixel). Training
and validation samples are all good; test samples are good or show a defect, with a mask.

Layout of one category (``<root>/<category>``)::

    train/good/rgb/000.png        train/good/xyz/000.tiff
    validation/good/rgb/000.png   validation/good/xyz/000.tiff
    test/<defect>/rgb/000.png     test/<defect>/xyz/000.tiff     test/<defect>/gt/000.png

Masks (``gt``) share their image's stem and resolution. Folders ``gt`` of good samples, when
present, are not read. Point clouds are listed in ``xyz_path`` and read only by :func:`read_xyz`.

Reference:
    Bergmann, Jin, Sattlegger, Steger. "The MVTec 3D-AD Dataset for Unsupervised 3D Anomaly
    Detection and Localization." VISAPP 2022. arXiv:2112.09045.
    https://www.mvtec.com/company/research/datasets/mvtec-3d-ad

License:
    The dataset is released under CC BY-NC-SA 4.0 (non-commercial use).

Index columns (see :mod:`harness.data`): ``split`` ("train" | "validation" | "test"), ``label``,
``defect``, ``image_path`` (the RGB image), ``mask_path`` ("" for good samples), ``xyz_path``;
rows sorted by (split, image_path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from harness.data.errors import DataLayoutError
from harness.tracks.anomaly._layout import (
    category_dir,
    check_pairs,
    list_files,
    make_index,
    resolve_root,
    subfolders,
)

__all__ = ["CATEGORIES", "IMG_EXTENSIONS", "SPLITS", "list_subsets", "load_index", "read_xyz", "read_xyz_batch"]

#: The 10 official categories.
CATEGORIES = (
    "bagel",
    "cable_gland",
    "carrot",
    "cookie",
    "dowel",
    "foam",
    "peach",
    "potato",
    "rope",
    "tire",
)
#: Accepted RGB image extensions (compared lower-case).
IMG_EXTENSIONS = (".png",)
#: Accepted point-cloud extensions (compared lower-case).
XYZ_EXTENSIONS = (".tiff", ".tif")
#: Splits of the index; ``validation`` is optional on disk.
SPLITS = ("train", "validation", "test")
#: Splits that hold good samples only.
GOOD_ONLY_SPLITS = ("train", "validation")
GOOD = "good"

TITLE = "MVTec 3D-AD"
SOURCE = "https://www.mvtec.com/company/research/datasets/mvtec-3d-ad"
PLACEMENT = "<data-root>/mvtec_3d/<category>/train/good/rgb/000.png"


def list_subsets(root: str | Path) -> list[str]:
    """Return the categories present in ``root``: subfolders that hold a ``train`` or ``test`` folder.

    Example:
        >>> list_subsets("/data/mvtec_3d")  # doctest: +SKIP
        ['bagel', 'cable_gland', ...]
    """
    path = Path(root).expanduser()
    if not path.is_dir():
        return []
    return [p.name for p in subfolders(path) if (p / "train").is_dir() or (p / "test").is_dir()]


def _companion(sample: Path, kind: str, extensions: tuple[str, ...], cat: Path, where: str) -> Path:
    """Return ``<defect>/<kind>/<stem><ext>`` for the RGB image ``<defect>/rgb/<stem>.png``."""
    folder = sample.parent.parent / kind
    for ext in extensions:
        path = folder / f"{sample.stem}{ext}"
        if path.is_file():
            return path
    rel = sample.relative_to(cat).as_posix()
    expected = (folder / f"{sample.stem}{extensions[0]}").relative_to(cat).as_posix()
    what = "mask" if kind == "gt" else "point cloud"
    msg = (
        f"{where}: image {rel} has no {what} {expected}; every sample keeps its files under one "
        f"stem, e.g. test/hole/rgb/003.png -> test/hole/{kind}/003{extensions[0]}."
    )
    raise DataLayoutError(msg)


def _split_records(cat: Path, split: str, where: str) -> tuple[list[dict], list[Path], list[Path | None]]:
    records: list[dict] = []
    images: list[Path] = []
    masks: list[Path | None] = []
    for defect_dir in subfolders(cat / split):
        defect = defect_dir.name
        if split in GOOD_ONLY_SPLITS and defect != GOOD:
            msg = (
                f"{where}: folder {split}/{defect} is not allowed; the {split} split holds good samples "
                f"only, in {split}/{GOOD}/. Move the folder out of {split}/."
            )
            raise DataLayoutError(msg)
        rgb = defect_dir / "rgb"
        files = list_files(rgb, IMG_EXTENSIONS, where, cat) if rgb.is_dir() else []
        if not files:
            rel = rgb.relative_to(cat).as_posix()
            msg = f"{where}: folder {rel} is missing or holds no image; RGB images go in {rel}/000.png."
            raise DataLayoutError(msg)
        for image in files:
            mask = None if defect == GOOD else _companion(image, "gt", IMG_EXTENSIONS, cat, where)
            xyz = _companion(image, "xyz", XYZ_EXTENSIONS, cat, where)
            records.append(
                {
                    "split": split,
                    "label": int(defect != GOOD),
                    "defect": defect,
                    "image_path": str(image),
                    "mask_path": "" if mask is None else str(mask),
                    "xyz_path": str(xyz),
                }
            )
            images.append(image)
            masks.append(mask)
    return records, images, masks


def load_index(root: str | Path, subset: str) -> pd.DataFrame:
    """Index one MVTec 3D-AD category after checking its layout.

    Args:
        root: Folder that contains the category folders.
        subset: Category, e.g. ``"bagel"``.

    Returns:
        Index frame with the columns split, label, defect, image_path, mask_path, xyz_path (see
        the module docstring), sorted by (split, image_path).

    Raises:
        DataMissingError: ``root`` or the category folder does not exist.
        DataLayoutError: The layout is broken (empty category, no train/good, a sample without its
            mask or point cloud, a mask whose size differs from its image, an unreadable image);
            the message names the file.

    Example:
        >>> index = load_index("/data/mvtec_3d", "bagel")  # doctest: +SKIP
        >>> index.groupby("split").size().to_dict()  # doctest: +SKIP
        {'test': 110, 'train': 244, 'validation': 22}
    """
    base = resolve_root(root, TITLE, SOURCE, PLACEMENT)
    cat = category_dir(base, subset, TITLE, list_subsets(base))
    where = f"{TITLE} at {cat}"
    if not any((cat / split).is_dir() for split in SPLITS):
        msg = (
            f"{where}: the category is empty (no train/, validation/ or test/ folder); extract it so that "
            f"{subset}/train/{GOOD}/rgb/000.png exists."
        )
        raise DataLayoutError(msg)
    for split in ("train", "test"):
        required = cat / split / GOOD if split == "train" else cat / split
        if not required.is_dir():
            rel = required.relative_to(cat).as_posix()
            msg = f"{where}: folder {rel}/ is missing; e.g. {rel}/{'' if split == 'train' else 'good/'}rgb/000.png."
            raise DataLayoutError(msg)
    records: list[dict] = []
    images: list[Path] = []
    masks: list[Path | None] = []
    for split in SPLITS:
        if (cat / split).is_dir():
            split_records, split_images, split_masks = _split_records(cat, split, where)
            records += split_records
            images += split_images
            masks += split_masks
    check_pairs(images, masks, where, cat)
    return make_index(records, extra_columns=("xyz_path",))


def read_xyz(path: str | Path) -> np.ndarray:
    """Read one organized point cloud (x, y, z per pixel; 0 where the sensor saw nothing).

    Uses ``tifffile`` when it is installed (needed for the official 3-channel float TIFFs);
    otherwise Pillow, which reads single-channel float TIFFs only.

    Args:
        path: A ``xyz/*.tiff`` file, e.g. from the ``xyz_path`` column.

    Returns:
        float32 array of shape (H, W, 3) (or (H, W, 1) for a single-channel depth map).

    Raises:
        DataLayoutError: The file is missing or cannot be decoded; names the file.

    Example:
        >>> read_xyz(index.xyz_path[0]).shape  # doctest: +SKIP
        (800, 800, 3)
    """
    path = Path(path)
    if not path.is_file():
        msg = f"point cloud {path} does not exist; re-extract it from the MVTec 3D-AD archive."
        raise DataLayoutError(msg)
    try:
        import tifffile
    except ImportError:
        tifffile = None
    try:
        if tifffile is not None:
            values = np.asarray(tifffile.imread(path), dtype=np.float32)
        else:
            with Image.open(path) as img:
                values = np.asarray(img, dtype=np.float32)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        hint = (
            "" if tifffile is not None else " 3-channel float TIFFs need the tifffile package (pip install tifffile)."
        )
        msg = f"point cloud {path} cannot be decoded ({type(exc).__name__}: {exc}).{hint}"
        raise DataLayoutError(msg) from exc
    if values.size == 0:
        msg = f"point cloud {path} cannot be decoded (no pixel data); re-extract it from the MVTec 3D-AD archive."
        raise DataLayoutError(msg)
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3:
        msg = f"point cloud {path} must be an (H, W, C) array; got shape {values.shape}."
        raise DataLayoutError(msg)
    return values


def read_xyz_batch(paths: list[str], size: int) -> np.ndarray:
    """Read point clouds and resize each to ``size`` x ``size`` by nearest neighbour (no blend across holes).

    Args:
        paths: ``xyz/*.tiff`` files, one per image.
        size: Side of the output, the budget's ``image_size``.

    Returns:
        float32 array of shape (n_images, size, size, 3); a single-channel depth map fills x and y with 0.

    Raises:
        DataLayoutError: A file is missing or cannot be decoded; names the file.
    """
    out = np.zeros((len(paths), size, size, 3), dtype=np.float32)
    for i, path in enumerate(paths):
        values = read_xyz(path)
        rows = (np.arange(size) * values.shape[0]) // size
        cols = (np.arange(size) * values.shape[1]) // size
        sampled = values[rows[:, None], cols[None, :]]
        out[i, :, :, 3 - sampled.shape[2]:] = sampled[:, :, :3]
    return out
