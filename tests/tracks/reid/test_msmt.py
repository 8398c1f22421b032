"""MSMT17 loader: tiny V1 and V2 copies with list files, broken ones."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.reid import DISTRACTOR_ID, INDEX_COLUMNS, msmt

SEED = 0
#: Width and height of the fake images.
IMAGE_SIZE = (16, 32)
#: Image folders of the two versions: (train, test).
FOLDERS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
#: list file -> its lines (``<path> <pid>``), as in the official lists.
LISTS = {
    "list_train.txt": ["0001/0001_003_05_0303noon_0100_1.jpg 1", "0000/0000_000_01_0303morning_0015_0.jpg 0"],
    "list_val.txt": ["0000/0000_001_15_0303afternoon_0020_0.jpg 0"],
    "list_query.txt": ["0002/0002_000_07_0113morning_0008_1.jpg 2", "0000/0000_000_02_0113morning_0008_1.jpg 0"],
    "list_gallery.txt": [
        "0000/0000_001_03_0113noon_0300_0.jpg 0",
        "0002/0002_004_07_0113noon_0030_1.jpg 2",
        "0001/0001_000_09_0113noon_0040_0.jpg 1",
    ],
}


def _jpeg_bytes() -> bytes:
    rng = np.random.default_rng(SEED)
    pixels = rng.integers(0, 256, size=(IMAGE_SIZE[1], IMAGE_SIZE[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


JPEG = _jpeg_bytes()


def write_msmt(folder: Path, version: str = "MSMT17_V1", lists: dict[str, list[str]] = LISTS) -> Path:
    """Write the list files and every listed image in ``folder``; return ``folder``."""
    train_dir, test_dir = FOLDERS[version]
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in lists.items():
        (folder / name).write_text("".join(f"{line}\n" for line in lines))
        image_dir = folder / (train_dir if name in ("list_train.txt", "list_val.txt") else test_dir)
        for line in lines:
            path = image_dir / line.split()[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(JPEG)
    return folder


def _append(folder: Path, name: str, line: str, *, image: Path | None = None) -> None:
    with (folder / name).open("a") as handle:
        handle.write(line + "\n")
    if image is not None:
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(JPEG)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """The dataset folder (``<tmp>/MSMT17_V1``) of a tiny V1 copy."""
    return write_msmt(tmp_path / "MSMT17_V1")


def _names(frame) -> list[str]:
    return [Path(p).name for p in frame["path"]]


def test_index_of_a_tiny_copy(dataset):
    index = msmt.load_index(dataset.parent)
    frame = index.images
    assert index.name == "MSMT17" and index.n_cameras == 15
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert frame["pid"].dtype == np.int64 and frame["camid"].dtype == np.int64
    assert frame["split"].tolist() == ["train"] * 3 + ["query"] * 2 + ["gallery"] * 3
    assert _names(index.split("train")) == [
        "0000_000_01_0303morning_0015_0.jpg",
        "0000_001_15_0303afternoon_0020_0.jpg",
        "0001_003_05_0303noon_0100_1.jpg",
    ]
    assert _names(index.split("query")) == ["0000_000_02_0113morning_0008_1.jpg", "0002_000_07_0113morning_0008_1.jpg"]
    assert _names(index.split("gallery")) == [
        "0000_001_03_0113noon_0300_0.jpg",
        "0001_000_09_0113noon_0040_0.jpg",
        "0002_004_07_0113noon_0030_1.jpg",
    ]
    assert frame["pid"].tolist() == [1, 1, 2, 1, 3, 1, 2, 3]
    assert frame["camid"].tolist() == [0, 14, 4, 1, 6, 2, 8, 6]
    for path, split in zip(frame["path"], frame["split"], strict=True):
        assert isinstance(path, str) and Path(path).is_absolute() and Path(path).is_file()
        assert Path(path).parent.parent == dataset.resolve() / ("train" if split == "train" else "test")


def test_listed_pid_zero_is_a_real_identity_not_a_distractor(dataset):
    frame = msmt.load_index(dataset).images
    assert DISTRACTOR_ID not in frame["pid"].tolist()
    assert (frame["pid"] == 1).sum() == 4  # the four images listed with pid 0


@pytest.mark.parametrize("version", ["MSMT17_V1", "MSMT17_V2"])
@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_both_versions_in_both_placements(tmp_path, version, nested):
    folder = write_msmt(tmp_path / version if nested else tmp_path, version)
    assert msmt.list_subsets(tmp_path) == ["all"]
    frame = msmt.load_index(tmp_path).images
    assert len(frame) == 8
    assert {Path(p).parent.parent for p in frame["path"]} == {folder.resolve() / name for name in FOLDERS[version]}


def test_blank_lines_are_skipped(dataset):
    lines = (dataset / "list_gallery.txt").read_text().splitlines()
    (dataset / "list_gallery.txt").write_text("\n" + "\n\n".join(lines) + "\n\n")
    assert len(msmt.load_index(dataset).split("gallery")) == 3


def test_list_subsets_never_raises(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    write_msmt(tmp_path / "too_deep" / "other")
    assert msmt.list_subsets(tmp_path / "nowhere") == []
    assert msmt.list_subsets(tmp_path / "a_file") == []
    assert msmt.list_subsets(tmp_path / "empty") == []
    assert msmt.list_subsets(tmp_path / "too_deep") == []


def test_unknown_subset(dataset):
    with pytest.raises(DataLayoutError, match="subset of MSMT17 must be one of all; got 'v2'"):
        msmt.load_index(dataset, "v2")


def test_missing_root_says_where_to_get_it(tmp_path):
    with pytest.raises(DataMissingError, match=r"MSMT17 folder .*nowhere does not exist\. Request the dataset from"):
        msmt.load_index(tmp_path / "nowhere")


def test_root_without_list_files(tmp_path):
    with pytest.raises(DataMissingError, match=r"none of list_train.txt, list_val.txt, .* is in .*MSMT17_V1 or"):
        msmt.load_index(tmp_path)


@pytest.mark.parametrize("name", list(LISTS))
def test_missing_list_file(dataset, name):
    (dataset / name).unlink()
    with pytest.raises(DataMissingError, match=rf"list file {name} is missing; the dataset needs list_train.txt, "):
        msmt.load_index(dataset)


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("0000/0000_000_04_0113noon_0001_0.jpg", id="no-pid"),
        pytest.param("0000/0000_000_04_0113noon_0001_0.jpg 0 extra", id="three-fields"),
        pytest.param("0000/0000_000_04_0113noon_0001_0.jpg x", id="pid-not-a-number"),
        pytest.param("0000/0000_000_04_0113noon_0001_0.jpg -1", id="negative-pid"),
        pytest.param("/abs/0000_000_04_0113noon_0001_0.jpg 0", id="absolute-path"),
        pytest.param("../0000/0000_000_04_0113noon_0001_0.jpg 0", id="parent-path"),
        pytest.param("0000/0000_000.jpg 0", id="two-name-fields"),
        pytest.param("0000/0000_000_cam_0113noon_0001_0.jpg 0", id="camera-not-a-number"),
        pytest.param("0000/0000_000_04_0113noon_0001_0.txt 0", id="not-an-image"),
    ],
)
def test_malformed_line_names_the_file_and_line(dataset, line):
    _append(dataset, "list_query.txt", line)
    with pytest.raises(
        DataLayoutError,
        match=r"list_query.txt line 3 must read '<path under test/> <pid>', e\.g\. '0000/0000_000_01_0303morning_0015_0"
        r"\.jpg 0', with the camera as the third '_' field of the file name; got ",
    ):
        msmt.load_index(dataset)


def test_line_numbers_count_blank_lines(dataset):
    lines = (dataset / "list_train.txt").read_text()
    (dataset / "list_train.txt").write_text("\n" + lines + "broken\n")
    with pytest.raises(DataLayoutError, match=r"list_train.txt line 4 must read '<path under train/> <pid>'"):
        msmt.load_index(dataset)


@pytest.mark.parametrize("camera", ["00", "16"])
def test_camera_outside_1_to_15(dataset, camera):
    rel = f"0002/0002_009_{camera}_0113noon_0001_0.jpg"
    _append(dataset, "list_gallery.txt", f"{rel} 2", image=dataset / "test" / rel)
    with pytest.raises(
        DataLayoutError,
        match=rf"list_gallery.txt line 4: image test/{rel} names camera {camera} \(third '_' field of the file name\);"
        r" MSMT17 has cameras 01\.\.15",
    ):
        msmt.load_index(dataset)


def test_listed_image_missing_on_disk(dataset):
    rel = "0002/0002_004_07_0113noon_0030_1.jpg"
    (dataset / "test" / rel).unlink()
    with pytest.raises(
        DataMissingError,
        match=rf"image test/{rel} \(list_gallery.txt line 2\) is not on disk \(1 of 3 images listed for the gallery",
    ):
        msmt.load_index(dataset)


@pytest.mark.parametrize(
    ("folder", "lists"), [("train", "list_train.txt and list_val.txt"), ("test", "list_query.txt")]
)
def test_missing_image_folder(dataset, folder, lists):
    shutil.rmtree(dataset / folder)
    with pytest.raises(
        DataMissingError,
        match=rf"image folder {folder}/ \(MSMT17_V1; mask_{folder}_v2/ in MSMT17_V2\) is missing; the paths of {lists}",
    ):
        msmt.load_index(dataset)


def test_image_listed_twice(dataset):
    _append(dataset, "list_val.txt", LISTS["list_train.txt"][1])
    with pytest.raises(
        DataLayoutError,
        match=r"list_val.txt line 2 lists train/0000/0000_000_01_0303morning_0015_0.jpg again "
        r"\(list_train.txt line 2\)",
    ):
        msmt.load_index(dataset)


def test_empty_query_list(tmp_path):
    write_msmt(tmp_path, lists={**LISTS, "list_query.txt": []})
    with pytest.raises(DataLayoutError, match=r"the query split \(list_query.txt\) holds no image"):
        msmt.load_index(tmp_path)


def test_query_identity_absent_from_the_gallery(dataset):
    rel = "0005/0005_000_04_0113noon_0001_0.jpg"
    _append(dataset, "list_query.txt", f"{rel} 5", image=dataset / "test" / rel)
    with pytest.raises(
        DataLayoutError,
        match=rf"query image test/{rel} \(list_query.txt line 3\) has no gallery image of its identity in "
        r"list_gallery.txt \(1 of 3 query images have none\)",
    ):
        msmt.load_index(dataset)


def test_list_file_not_utf8(dataset):
    (dataset / "list_val.txt").write_bytes(b"\xff\xfe\x00broken\n")
    with pytest.raises(DataLayoutError, match="list_val.txt is not UTF-8 text"):
        msmt.load_index(dataset)
