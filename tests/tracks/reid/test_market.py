"""Market-1501 and DukeMTMC-reID loaders (one folder-layout reader): tiny copies in the official layout, broken ones."""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.reid import DISTRACTOR_ID, INDEX_COLUMNS, JUNK_ID, SPLITS, ReidIndex, duke, market

SEED = 0
#: Width and height of the fake images.
IMAGE_SIZE = (16, 32)


def _jpeg_bytes() -> bytes:
    rng = np.random.default_rng(SEED)
    pixels = rng.integers(0, 256, size=(IMAGE_SIZE[1], IMAGE_SIZE[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


JPEG = _jpeg_bytes()


@dataclass(frozen=True)
class Layout:
    """One dataset of the folder layout, as the tests write it."""

    module: ModuleType
    title: str
    archive_dir: str
    n_cameras: int
    file_name: Callable[[str, int, int], str]  # (pid, camera, serial) -> file name
    foreign: str  # a valid name of the other dataset, malformed here


MARKET = Layout(
    module=market,
    title="Market-1501",
    archive_dir="Market-1501-v15.09.15",
    n_cameras=6,
    file_name=lambda p, c, k: f"{p}_c{c}s1_{k:06d}_00.jpg",
    foreign="0002_c1_f0046182.jpg",
)
DUKE = Layout(
    module=duke,
    title="DukeMTMC-reID",
    archive_dir="DukeMTMC-reID",
    n_cameras=8,
    file_name=lambda p, c, k: f"{p}_c{c}_f{k:07d}.jpg",
    foreign="0002_c1s1_000451_03.jpg",
)
LAYOUTS = [pytest.param(MARKET, id="market"), pytest.param(DUKE, id="duke")]

#: folder -> (pid, camera, serial) of the fixture's images: junk -1 in train and gallery, distractors 0000 in
#: every split (kept in the gallery only).
TREE = {
    "bounding_box_train": [("0007", 2, 3), ("0002", 1, 1), ("0002", 3, 2), ("-1", 1, 4), ("0000", 2, 5)],
    "query": [("0005", 4, 6), ("0003", 1, 7), ("0000", 1, 8)],
    "bounding_box_test": [("0003", 2, 9), ("0005", 1, 10), ("0005", 4, 11), ("0000", 3, 12), ("-1", 5, 13)],
}


def write_tree(folder: Path, layout: Layout, tree: dict[str, list[tuple[str, int, int]]] = TREE) -> Path:
    """Write ``tree`` in ``folder`` with non-image files and a sub-folder beside the images; return ``folder``."""
    for name, images in tree.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for pid, camera, serial in images:
            (folder / name / layout.file_name(pid, camera, serial)).write_bytes(JPEG)
    (folder / "bounding_box_test" / "Thumbs.db").write_bytes(b"\0\1")
    (folder / "bounding_box_train" / "readme.txt").write_text("not an image")
    extra = folder / "query" / "extra"
    extra.mkdir(exist_ok=True)
    (extra / layout.file_name("0009", 1, 99)).write_bytes(JPEG)
    return folder


def _add(folder: Path, split_folder: str, name: str) -> Path:
    path = folder / split_folder / name
    path.write_bytes(JPEG)
    return path


@pytest.fixture(params=LAYOUTS)
def layout(request: pytest.FixtureRequest) -> Layout:
    return request.param


@pytest.fixture
def dataset(tmp_path: Path, layout: Layout) -> Path:
    """The dataset folder (``<tmp>/<archive_dir>``) of a tiny copy."""
    return write_tree(tmp_path / layout.archive_dir, layout)


def _names(index: ReidIndex, split: str) -> list[str]:
    return [Path(p).name for p in index.split(split)["path"]]


def test_index_of_a_tiny_copy(dataset, layout):
    index = layout.module.load_index(dataset.parent)
    frame = index.images
    assert index.name == layout.title and index.n_cameras == layout.n_cameras
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert frame["pid"].dtype == np.int64 and frame["camid"].dtype == np.int64
    assert frame["split"].tolist() == ["train"] * 3 + ["query"] * 2 + ["gallery"] * 4
    assert list(dict.fromkeys(frame["split"])) == list(SPLITS)
    name = layout.file_name
    assert _names(index, "train") == [name("0002", 1, 1), name("0002", 3, 2), name("0007", 2, 3)]
    assert _names(index, "query") == [name("0003", 1, 7), name("0005", 4, 6)]
    gallery = [name("0000", 3, 12), name("0003", 2, 9), name("0005", 1, 10), name("0005", 4, 11)]
    assert _names(index, "gallery") == gallery
    assert frame["pid"].tolist() == [2, 2, 7, 3, 5, 0, 3, 5, 5]
    assert frame["camid"].tolist() == [0, 2, 1, 0, 3, 2, 1, 0, 3]
    for path in frame["path"]:
        assert isinstance(path, str) and Path(path).is_absolute() and Path(path).is_file()
        assert Path(path).parent.parent == dataset.resolve()


def test_dataset_may_sit_directly_in_root(tmp_path, layout):
    write_tree(tmp_path, layout)
    index = layout.module.load_index(tmp_path)
    assert len(index.images) == 9 and Path(index.images["path"][0]).parent.parent == tmp_path.resolve()


def test_junk_is_dropped_everywhere_and_distractors_kept_in_the_gallery_only(dataset, layout):
    frame = layout.module.load_index(dataset.parent).images
    assert JUNK_ID not in frame["pid"].tolist()
    assert frame.loc[frame["pid"] == DISTRACTOR_ID, "split"].tolist() == ["gallery"]


def test_skipped_images_are_counted_in_an_info_log(dataset, layout, caplog):
    with caplog.at_level(logging.INFO, logger=market.__name__):
        layout.module.load_index(dataset.parent)
    assert "skipped 2 junk images (identity -1) and 2 distractors outside the gallery (identity 0000)" in caplog.text
    assert all(record.levelno == logging.INFO for record in caplog.records)


def test_no_log_when_nothing_is_skipped(tmp_path, layout, caplog):
    tree = {"bounding_box_train": [("0002", 1, 1)], "query": [("0003", 1, 2)], "bounding_box_test": [("0003", 2, 3)]}
    write_tree(tmp_path, layout, tree)
    with caplog.at_level(logging.INFO, logger=market.__name__):
        layout.module.load_index(tmp_path)
    assert caplog.text == ""


def test_non_images_and_sub_folders_are_ignored(dataset, layout):
    frame = layout.module.load_index(dataset.parent).images
    names = {Path(p).name for p in frame["path"]}
    assert "Thumbs.db" not in names and "readme.txt" not in names
    assert layout.file_name("0009", 1, 99) not in names


@pytest.mark.parametrize("suffix", [".jpeg", ".png", ".JPG"])
def test_other_image_extensions_are_read(dataset, layout, suffix):
    stem = Path(layout.file_name("0008", 2, 50)).stem
    _add(dataset, "bounding_box_train", stem + suffix)
    assert stem + suffix in _names(layout.module.load_index(dataset), "train")


def test_list_subsets_finds_both_placements(tmp_path, layout):
    write_tree(tmp_path / "nested" / layout.archive_dir, layout)
    write_tree(tmp_path / "flat", layout)
    assert layout.module.list_subsets(tmp_path / "nested") == ["all"]
    assert layout.module.list_subsets(tmp_path / "nested" / layout.archive_dir) == ["all"]
    assert layout.module.list_subsets(str(tmp_path / "flat")) == ["all"]


def test_list_subsets_never_raises(tmp_path, layout):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "empty").mkdir()
    assert layout.module.list_subsets(tmp_path / "nowhere") == []
    assert layout.module.list_subsets(tmp_path / "a_file") == []
    assert layout.module.list_subsets(tmp_path / "empty") == []


def test_list_subsets_tells_market_from_duke(tmp_path):
    write_tree(tmp_path / "m", MARKET)
    write_tree(tmp_path / "d", DUKE)
    assert market.list_subsets(tmp_path / "m") == ["all"] and duke.list_subsets(tmp_path / "m") == []
    assert duke.list_subsets(tmp_path / "d") == ["all"] and market.list_subsets(tmp_path / "d") == []


def test_unknown_subset(dataset, layout):
    with pytest.raises(DataLayoutError, match=rf"subset of {layout.title} must be one of all; got 'bottle'"):
        layout.module.load_index(dataset, "bottle")


def test_missing_root_says_where_to_get_it(tmp_path, layout):
    with pytest.raises(DataMissingError, match=rf"{layout.title} folder .*nowhere does not exist\. Download .* from"):
        layout.module.load_index(tmp_path / "nowhere")


def test_root_without_split_folders(tmp_path, layout):
    with pytest.raises(
        DataMissingError,
        match=rf"none of bounding_box_train/, query/, bounding_box_test/ is in .* or .*{layout.archive_dir}",
    ):
        layout.module.load_index(tmp_path)


@pytest.mark.parametrize("folder", ["bounding_box_train", "query", "bounding_box_test"])
def test_missing_split_folder(dataset, layout, folder):
    shutil.rmtree(dataset / folder)
    with pytest.raises(
        DataMissingError,
        match=rf"folder {folder}/ is missing; the dataset needs bounding_box_train/, query/, bounding_box_test/ side",
    ):
        layout.module.load_index(dataset)


@pytest.mark.parametrize("name", ["0002.jpg", "2_c1s1_000451_03.jpg", "abcd_c1_f1.jpg", "0002_c1_x.jpg"])
def test_malformed_file_name_names_the_file_and_the_rule(dataset, layout, name):
    _add(dataset, "query", name)
    with pytest.raises(
        DataLayoutError, match=rf"file name query/{name} must read '<pid>_c<camera>.*' \(pid: 4 digits.*\), e\.g\. '"
    ):
        layout.module.load_index(dataset)


def test_name_of_the_other_dataset_is_malformed(dataset, layout):
    _add(dataset, "bounding_box_test", layout.foreign)
    with pytest.raises(DataLayoutError, match=rf"file name bounding_box_test/{layout.foreign} must read"):
        layout.module.load_index(dataset)


def test_camera_above_the_official_count(dataset, layout):
    name = layout.file_name("0002", layout.n_cameras + 1, 70)
    _add(dataset, "bounding_box_train", name)
    with pytest.raises(
        DataLayoutError,
        match=rf"file bounding_box_train/{name} names camera c{layout.n_cameras + 1}; {layout.title} has cameras "
        rf"c1\.\.c{layout.n_cameras}",
    ):
        layout.module.load_index(dataset)


def test_camera_zero(dataset, layout):
    name = layout.file_name("0003", 0, 71)
    _add(dataset, "bounding_box_test", name)
    with pytest.raises(DataLayoutError, match=rf"file bounding_box_test/{name} names camera c0;"):
        layout.module.load_index(dataset)


def test_empty_query_folder(tmp_path, layout):
    write_tree(tmp_path, layout, {**TREE, "query": []})
    with pytest.raises(DataLayoutError, match=r"the query split \(query/\) holds no image; the retrieval protocol"):
        layout.module.load_index(tmp_path)


def test_query_of_distractors_only_is_empty(tmp_path, layout):
    write_tree(tmp_path, layout, {**TREE, "query": [("0000", 1, 8)]})
    with pytest.raises(DataLayoutError, match=r"the query split \(query/\) holds no image"):
        layout.module.load_index(tmp_path)


def test_query_identity_absent_from_the_gallery(dataset, layout):
    name = layout.file_name("0011", 2, 80)
    _add(dataset, "query", name)
    with pytest.raises(
        DataLayoutError,
        match=rf"query image query/{name} has no gallery image of its identity in bounding_box_test/ \(1 of 3 query",
    ):
        layout.module.load_index(dataset)


def test_a_distractor_does_not_count_as_the_gallery_match_of_a_query(tmp_path, layout):
    tree = {"bounding_box_train": [], "query": [("0003", 1, 1)], "bounding_box_test": [("0000", 2, 2)]}
    write_tree(tmp_path, layout, tree)
    with pytest.raises(DataLayoutError, match="has no gallery image of its identity"):
        layout.module.load_index(tmp_path)
