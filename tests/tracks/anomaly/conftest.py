"""Shared helpers of the data tests: size constants, fixture writers and the base index check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

#: Side of the fixture images, in pixels (tiny on purpose: the tests only exercise the layout).
SIZE = 12
#: Seed of every random fixture.
SEED = 0
INDEX_COLUMNS = ["split", "label", "defect", "image_path", "mask_path"]


def write_png(
    path: Path, shape: tuple[int, int] = (SIZE, SIZE), *, value: int | None = None, mode: str = "RGB"
) -> Path:
    """Write a small PNG (random pixels, or a constant ``value``) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, len(str(path))])
    channels = (3,) if mode == "RGB" else ()
    if value is None:
        pixels = rng.integers(0, 256, size=(*shape, *channels), dtype=np.uint8)
    else:
        pixels = np.full((*shape, *channels), value, dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def write_mask(path: Path, shape: tuple[int, int] = (SIZE, SIZE), *, on: int = 255) -> Path:
    """Write a mask with a 3x3 block of value ``on`` in its top-left corner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.zeros(shape, dtype=np.uint8)
    pixels[1:4, 1:4] = on
    Image.fromarray(pixels).save(path)
    return path


def write_mvtec_ad(
    root: Path,
    category: str = "bottle",
    *,
    n_train: int = 3,
    n_good: int = 2,
    defects: tuple[str, ...] = ("crack", "scratch"),
    n_defect: int = 2,
) -> Path:
    """Write a tiny category in the MVTec AD layout and return the category folder."""
    cat = root / category
    for i in range(n_train):
        write_png(cat / "train" / "good" / f"{i:03d}.png")
    for i in range(n_good):
        write_png(cat / "test" / "good" / f"{i:03d}.png")
    for defect in defects:
        for i in range(n_defect):
            write_png(cat / "test" / defect / f"{i:03d}.png")
            write_mask(cat / "ground_truth" / defect / f"{i:03d}_mask.png")
    return cat


def check_index(index: pd.DataFrame, *, splits: tuple[str, ...] = ("test", "train")) -> None:
    """The base check every loader's index passes, written independently of the loaders."""
    assert list(index.columns[:5]) == INDEX_COLUMNS
    assert index["label"].dtype == np.int64
    assert set(index["split"]) == set(splits)
    assert set(index["label"]) <= {0, 1}
    keys = list(zip(index["split"], index["image_path"], strict=True))
    assert keys == sorted(keys), "rows must be sorted by (split, image_path)"
    assert index["image_path"].is_unique
    train = set(index.loc[index.split == "train", "image_path"])
    test = set(index.loc[index.split == "test", "image_path"])
    assert train and test and not train & test, "train and test must be disjoint and non-empty"
    assert (index.loc[index.split != "test", "label"] == 0).all(), "only the test split holds anomalies"
    for row in index.itertuples():
        assert Path(row.image_path).is_absolute() and Path(row.image_path).is_file()
        if row.label == 0:
            assert row.defect == "good" and row.mask_path == ""
        else:
            assert row.defect != "good"
            assert Path(row.mask_path).is_absolute()
            with Image.open(row.image_path) as image, Image.open(row.mask_path) as mask:
                assert image.size == mask.size


class Helpers:
    """The helpers above, handed to tests through the ``helpers`` fixture (no import of conftest)."""

    size = SIZE
    seed = SEED
    write_png = staticmethod(write_png)
    write_mask = staticmethod(write_mask)
    write_mvtec_ad = staticmethod(write_mvtec_ad)
    check_index = staticmethod(check_index)


@pytest.fixture
def helpers() -> type[Helpers]:
    """Fixture writers and the base index check."""
    return Helpers


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    """A data root with one tiny MVTec AD category, ``bottle``."""
    write_mvtec_ad(tmp_path)
    return tmp_path
