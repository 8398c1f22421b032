"""ImageFolder loader: tiny train/val class folders written by the test, and every broken variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.earlyexit import INDEX_COLUMNS, image_folder

SEED = 0
#: split folder -> class -> file names.
LAYOUT = {
    "train": {"n01": ["a.jpg", "b.JPEG"], "n02": ["c.png"], "n03": ["d.jpg", "e.jpg", "f.jpeg"]},
    "val": {"n01": ["v1.JPEG"], "n03": ["v2.png", "v3.jpg"]},
}


def _image(path: Path, side: int = 12) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, len(path.name), side])
    pixels = rng.integers(0, 256, size=(side, side + 2, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG" if path.suffix.lower() == ".png" else "JPEG")


def _text(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not an image")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A dataset with 3 training classes (6 images) and 2 val classes (3 images), plus ignored extras."""
    base = tmp_path / "imagenette"
    for split, classes in LAYOUT.items():
        for name, files in classes.items():
            for file in files:
                _image(base / split / name / file)
    (base / "train" / "n01" / "notes.txt").write_text("ignored")
    (base / "train" / "n02" / ".hidden.jpg").write_bytes(b"ignored")
    (base / "train" / ".cache").mkdir()
    (base / "noisy_imagenette.csv").write_text("path,label\n")
    return base


def test_index_of_a_tiny_dataset(root):
    index = image_folder.load_index(root)
    assert index.class_names == ("n01", "n02", "n03") and index.pixels is None
    frame = index.images
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert frame["split"].tolist() == ["train"] * 6 + ["test"] * 3
    assert frame["label"].tolist() == [0, 0, 1, 2, 2, 2, 0, 2, 2] and frame["label"].dtype == np.int64
    names = [Path(p).relative_to(root).as_posix() for p in frame["source"]]
    assert names == [
        "train/n01/a.jpg", "train/n01/b.JPEG", "train/n02/c.png", "train/n03/d.jpg", "train/n03/e.jpg",
        "train/n03/f.jpeg", "val/n01/v1.JPEG", "val/n03/v2.png", "val/n03/v3.jpg",
    ]
    assert index.read("test").shape == (3, 12, 14, 3)
    assert index.read("train", size=8).shape == (6, 8, 8, 3)
    np.testing.assert_array_equal(index.labels("test"), [0, 2, 2])


def test_test_folder_instead_of_val_and_list_subsets(root, tmp_path):
    assert image_folder.list_subsets(root) == ["all"]
    (root / "val").rename(root / "test")
    assert image_folder.list_subsets(root) == ["all"]
    assert len(image_folder.load_index(root).rows("test")) == 3
    assert image_folder.list_subsets(tmp_path / "nowhere") == []
    assert image_folder.list_subsets(root / "train") == []


def test_the_header_check_can_be_skipped(root):
    (root / "val" / "n03" / "v2.png").write_bytes(b"not an image")
    assert len(image_folder.load_index(root, check_images=False).images) == 9
    with pytest.raises(DataLayoutError, match=r"val/n03/v2\.png cannot be decoded"):
        image_folder.load_index(root, check_images=False).read("test")


HOW = r"Arrange the images as <root>/train/<class>/<image>\.jpg and <root>/val/<class>/<image>\.jpg"


@pytest.mark.parametrize(
    ("breakage", "error", "match"),
    [
        pytest.param(lambda r: r.rename(r.parent / "moved"), DataMissingError,
                     rf"ImageFolder dataset folder .*imagenette does not exist\. {HOW}", id="no-root"),
        pytest.param(lambda r: (r / "train").rename(r / "training"), DataMissingError,
                     rf"folder train/ is missing\. {HOW}", id="no-train"),
        pytest.param(lambda r: (r / "val").rename(r / "validation"), DataMissingError,
                     rf"folder val/ \(or test/\) is missing\. {HOW}", id="no-val"),
        pytest.param(lambda r: (r / "test").mkdir(), DataLayoutError,
                     r"holds both val/ and test/; the test split is read from one of them", id="val-and-test"),
        pytest.param(lambda r: (r / "train" / "n04").mkdir(), DataLayoutError,
                     r"class folder train/n04/ is an empty class: it holds no image file \(0 other entries; "
                     r"accepted extensions: \.jpg, \.jpeg, \.png, \.bmp, \.webp\)", id="empty-class"),
        pytest.param(lambda r: _text(r / "val" / "n02" / "readme.txt"), DataLayoutError,
                     r"class folder val/n02/ is an empty class: it holds no image file \(1 other entries",
                     id="txt-only"),
        pytest.param(lambda r: _image(r / "val" / "n09" / "x.jpg"), DataLayoutError,
                     r"class folder val/n09/ has no counterpart train/n09/ \(1 such classes\); the classes of "
                     r"val/ must be classes of train/", id="val-class-not-in-train"),
        pytest.param(lambda r: _image(r / "val" / "ILSVRC2012_val_00000001.JPEG"), DataLayoutError,
                     r"image val/ILSVRC2012_val_00000001\.JPEG lies directly in val/ \(1 such images\); every image "
                     r"belongs in a class folder val/<class>/", id="flat-val"),
        pytest.param(lambda r: (r / "train" / "n03" / "e.jpg").write_bytes(b"\xff\xd8\xff truncated"),
                     DataLayoutError, r"image train/n03/e\.jpg cannot be read \(.*\); the file is truncated, corrupt "
                     r"or not an image\. Replace it from the dataset archive or delete it", id="corrupt-image"),
        pytest.param(lambda r: (r / "train" / "n02" / "c.png").write_bytes(b""), DataLayoutError,
                     r"image train/n02/c\.png cannot be read", id="empty-file"),
        pytest.param(lambda r: [p.rename(p.with_suffix(".txt")) for p in (r / "train").rglob("*.*")],
                     DataLayoutError, r"class folder train/n01/ is an empty class", id="no-images-at-all"),
    ],
)
def test_broken_layouts_are_named(root, breakage, error, match):
    breakage(root)
    with pytest.raises(error, match=match):
        image_folder.load_index(root)


def test_split_root_without_class_folders(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "val").mkdir()
    with pytest.raises(DataLayoutError, match=rf"train/ holds no class folder\. {HOW}"):
        image_folder.load_index(tmp_path)


def test_unknown_subset(root):
    with pytest.raises(DataLayoutError, match=r"subset of ImageFolder dataset must be one of all; got 'x'"):
        image_folder.load_index(root, "x")
