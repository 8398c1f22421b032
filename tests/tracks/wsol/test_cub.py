"""CUB-200-2011 loader: tiny copies written in the official layout, broken ones, and the real partial copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.wsol import INDEX_COLUMNS, cub

#: The real copy with classes 011-020 (never copied into the repository).
REAL_CUB = Path(__file__).resolve().parents[3].parent / "shared" / "realdata" / "CUB_200_2011"
#: (class id, folder) of the fixture: ids that do not start at 1, as in a copy with some classes.
CLASSES = ((3, "003.Alpha"), (5, "005.Beta"), (8, "008.Gamma"))
SEED = 0


def _jpeg(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, width, height])
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path, quality=90)


def write_cub(root: Path) -> Path:
    """Write six images (two per class; odd ids train) in ``root/CUB_200_2011``; image 3 has two boxes."""
    folder = root / "CUB_200_2011"
    images, labels, splits, boxes = [], [], [], []
    for image_id in range(1, 7):
        class_id, name = CLASSES[(image_id - 1) // 2]
        rel = f"{name}/{name[4:]}_{image_id:04d}.jpg"
        _jpeg(folder / "images" / rel, 20 + image_id, 16)
        images.append(f"{image_id} {rel}")
        labels.append(f"{image_id} {class_id}")
        splits.append(f"{image_id} {image_id % 2}")
        boxes.append(f"{image_id} 1.0 2.0 10.0 8.0")
        if image_id == 3:
            boxes.append(f"{image_id} 12.0 0.0 5.5 16.0")
    files = {
        "images.txt": images,
        "image_class_labels.txt": labels,
        "train_test_split.txt": splits,
        "bounding_boxes.txt": boxes,
        "classes.txt": [f"{c} {n}" for c, n in CLASSES],
    }
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def _edit(folder: Path, name: str, line: int, text: str | None) -> None:
    """Replace 1-based ``line`` of a metadata file with ``text`` (None deletes it; a line past the end appends)."""
    lines = (folder / name).read_text().splitlines()
    if text is None:
        del lines[line - 1]
    elif line > len(lines):
        lines.append(text)
    else:
        lines[line - 1] = text
    (folder / name).write_text("\n".join(lines) + "\n")


@pytest.fixture
def cub_dir(tmp_path: Path) -> Path:
    """The dataset folder (holding images.txt) of a tiny CUB copy."""
    return write_cub(tmp_path)


def test_index_of_a_tiny_copy(cub_dir):
    index = cub.load_index(cub_dir.parent)
    frame = index.images
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert frame["image_id"].tolist() == [1, 2, 3, 4, 5, 6]
    assert index.class_names == ("003.Alpha", "005.Beta", "008.Gamma") and index.n_classes == 3
    assert frame["label"].tolist() == [0, 0, 1, 1, 2, 2] and frame["label"].dtype == np.int64
    assert frame["split"].tolist() == ["train", "test"] * 3
    assert frame["width"].tolist() == [21, 22, 23, 24, 25, 26] and set(frame["height"]) == {16}
    for path in frame["path"]:
        assert Path(path).is_absolute() and Path(path).is_file()
    assert frame.loc[0, "path"] == str(cub_dir / "images" / "003.Alpha" / "Alpha_0001.jpg")
    assert sorted(index.boxes) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(index.boxes[1], [[1.0, 2.0, 11.0, 10.0]])
    np.testing.assert_array_equal(index.boxes[3], [[1.0, 2.0, 11.0, 10.0], [12.0, 0.0, 17.5, 16.0]])
    assert all(b.dtype == np.float64 and b.shape[1] == 4 for b in index.boxes.values())


def test_root_may_be_the_dataset_folder_or_its_parent(cub_dir):
    first = cub.load_index(cub_dir)
    second = cub.load_index(str(cub_dir.parent))
    assert first.images.equals(second.images)
    assert cub.list_subsets(cub_dir) == cub.list_subsets(cub_dir.parent) == ["all"]


def test_list_subsets_never_raises(tmp_path):
    (tmp_path / "other" / "train").mkdir(parents=True)
    (tmp_path / "file.txt").write_text("x")
    assert cub.list_subsets(tmp_path / "other") == []
    assert cub.list_subsets(tmp_path / "missing") == []
    assert cub.list_subsets(tmp_path / "file.txt") == []


def test_box_reaching_past_the_border_within_tolerance_is_clipped(cub_dir):
    _edit(cub_dir, "bounding_boxes.txt", 1, "1 -1.0 3.0 22.0 14.0")  # image 1 is 21x16
    index = cub.load_index(cub_dir)
    np.testing.assert_array_equal(index.boxes[1], [[0.0, 3.0, 21.0, 16.0]])


def test_crlf_and_blank_lines_are_read(cub_dir):
    text = (cub_dir / "images.txt").read_text()
    (cub_dir / "images.txt").write_text("\r\n".join(text.splitlines()) + "\r\n\r\n")
    assert len(cub.load_index(cub_dir).images) == 6


@pytest.mark.parametrize("name", cub.METADATA_FILES)
def test_missing_metadata_file(cub_dir, name):
    (cub_dir / name).unlink()
    expected = "images.txt is in neither" if name == "images.txt" else f"metadata file {name} is missing"
    with pytest.raises(DataMissingError, match=expected):
        cub.load_index(cub_dir)


@pytest.mark.parametrize(
    ("name", "line", "text", "rule"),
    [
        ("images.txt", 2, "two 005.Beta/x.jpg", r"<image_id> <class folder>/<file name>"),
        ("images.txt", 2, "2", r"<image_id> <class folder>/<file name>"),
        ("image_class_labels.txt", 4, "4 5 5", r"<image_id> <class_id>"),
        ("train_test_split.txt", 5, "5 2", r"<image_id> <1 for train, 0 for test>"),
        ("bounding_boxes.txt", 3, "3 1.0 2.0 10.0", r"<image_id> <x> <y> <width> <height>"),
        ("bounding_boxes.txt", 4, "3 1.0 nan 10.0 8.0", r"<image_id> <x> <y> <width> <height>"),
        ("classes.txt", 2, "five 005.Beta", r"<class_id> <class folder name>"),
    ],
)
def test_malformed_line_names_file_line_and_rule(cub_dir, name, line, text, rule):
    _edit(cub_dir, name, line, text)
    with pytest.raises(DataLayoutError, match=rf"{name} line {line} must read '{rule}', e.g. '.*'; got '{text}'"):
        cub.load_index(cub_dir)


def test_listed_image_missing_on_disk(cub_dir):
    (cub_dir / "images" / "005.Beta" / "Beta_0004.jpg").unlink()
    with pytest.raises(
        DataMissingError,
        match=r"images.txt line 4 lists images/005.Beta/Beta_0004.jpg, which is not on disk \(1 of 6 listed",
    ):
        cub.load_index(cub_dir)


def test_missing_images_folder(cub_dir):
    (cub_dir / "images").rename(cub_dir / "pictures")
    with pytest.raises(DataMissingError, match=r"folder images/ is missing"):
        cub.load_index(cub_dir)


@pytest.mark.parametrize(
    ("name", "line", "other"),
    [("image_class_labels.txt", 2, None), ("train_test_split.txt", 6, None), ("bounding_boxes.txt", 7, None)],
)
def test_image_without_a_line_in_another_file(cub_dir, name, line, other):
    _edit(cub_dir, name, line, other)
    image_id = 6 if name == "bounding_boxes.txt" else line
    expected = rf"images.txt line {image_id}: image id {image_id} has no line in {name}"
    with pytest.raises(DataLayoutError, match=expected):
        cub.load_index(cub_dir)


@pytest.mark.parametrize(
    ("name", "line", "text"),
    [
        ("image_class_labels.txt", 7, "99 3"),
        ("train_test_split.txt", 7, "99 1"),
        ("bounding_boxes.txt", 8, "99 1.0 1.0 2.0 2.0"),
    ],
)
def test_id_unknown_to_images_txt(cub_dir, name, line, text):
    _edit(cub_dir, name, line, text)
    with pytest.raises(DataLayoutError, match=rf"{name} line {line} names image id 99, which is not in images.txt"):
        cub.load_index(cub_dir)


def test_repeated_id(cub_dir):
    _edit(cub_dir, "train_test_split.txt", 7, "2 1")
    with pytest.raises(DataLayoutError, match=r"train_test_split.txt line 7 repeats image id 2 of line 2"):
        cub.load_index(cub_dir)


def test_repeated_image_path(cub_dir):
    _edit(cub_dir, "images.txt", 2, "2 003.Alpha/Alpha_0001.jpg")
    with pytest.raises(DataLayoutError, match=r"images.txt line 2 lists images/003.Alpha/Alpha_0001.jpg again"):
        cub.load_index(cub_dir)


def test_path_outside_images_folder(cub_dir):
    _edit(cub_dir, "images.txt", 2, "2 ../images.txt")
    with pytest.raises(DataLayoutError, match=r"images.txt line 2 must give a path relative to images/"):
        cub.load_index(cub_dir)


def test_class_id_without_a_name(cub_dir):
    _edit(cub_dir, "image_class_labels.txt", 6, "6 9")
    _edit(cub_dir, "image_class_labels.txt", 5, "5 9")
    with pytest.raises(
        DataLayoutError, match=r"image_class_labels.txt line 5: class id 9 of image 5 has no name in classes.txt"
    ):
        cub.load_index(cub_dir)


def test_empty_class(cub_dir):
    _edit(cub_dir, "classes.txt", 4, "9 009.Delta")
    with pytest.raises(DataLayoutError, match=r"classes.txt line 4: class 9 \(009.Delta\) is an empty class"):
        cub.load_index(cub_dir)


@pytest.mark.parametrize(("text", "which"), [("2 1.0 2.0 0.0 8.0", "width 0"), ("2 1.0 2.0 3.0 -1.0", "height -1")])
def test_box_of_zero_size(cub_dir, text, which):
    _edit(cub_dir, "bounding_boxes.txt", 2, text)
    with pytest.raises(DataLayoutError, match=rf"bounding_boxes.txt line 2: the box of image 2 has {which}"):
        cub.load_index(cub_dir)


@pytest.mark.parametrize("text", ["4 20.0 2.0 10.0 8.0", "4 1.0 -3.0 10.0 8.0", "4 30.0 2.0 10.0 8.0"])
def test_box_outside_its_image(cub_dir, text):
    _edit(cub_dir, "bounding_boxes.txt", 5, text)  # image 4 is 24x16
    with pytest.raises(
        DataLayoutError,
        match=r"bounding_boxes.txt line 5: the box .* of image 4 lies outside its image "
        r"images/005.Beta/Beta_0004.jpg \(24x16 px, WxH\)",
    ):
        cub.load_index(cub_dir)


def test_corrupt_jpeg(cub_dir):
    (cub_dir / "images" / "008.Gamma" / "Gamma_0005.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(
        DataLayoutError, match=r"image images/008.Gamma/Gamma_0005.jpg \(images.txt line 5\) cannot be read"
    ):
        cub.load_index(cub_dir)


def test_missing_root_and_layout(tmp_path):
    with pytest.raises(DataMissingError, match=r"CUB-200-2011 folder .*nowhere does not exist. Download") as info:
        cub.load_index(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(DataMissingError, match=r"images.txt is in neither .* nor .*CUB_200_2011"):
        cub.load_index(tmp_path)
    with pytest.raises(DataLayoutError, match=r"subset of CUB-200-2011 must be one of all; got 'birds'"):
        cub.load_index(tmp_path, "birds")


@pytest.mark.skipif(not REAL_CUB.is_dir(), reason="the real partial CUB copy is not on this machine")
def test_real_partial_copy_loads():
    index = cub.load_index(REAL_CUB.parent)
    frame = index.images
    assert len(frame) == 572 and index.n_classes == 10
    assert index.class_names[0] == "011.Rusty_Blackbird" and index.class_names[-1] == "020.Yellow_breasted_Chat"
    assert sorted(set(frame["label"])) == list(range(10)) and set(frame["split"]) == {"train", "test"}
    assert frame["image_id"].is_monotonic_increasing and frame["image_id"].is_unique
    for row in frame.itertuples():
        box = index.boxes[row.image_id]
        assert box.shape == (1, 4)
        assert (box[:, 0] >= 0).all() and (box[:, 1] >= 0).all()
        assert (box[:, 2] <= row.width).all() and (box[:, 3] <= row.height).all()
        assert (box[:, 2] > box[:, 0]).all() and (box[:, 3] > box[:, 1]).all()
    # Image 999 is 500x375; its official box 2 69 457 311 reaches 5 px below the image and is clipped.
    np.testing.assert_array_equal(index.boxes[999], [[2.0, 69.0, 459.0, 375.0]])
    first = frame.iloc[0]
    with Image.open(first["path"]) as image:
        assert image.size == (first["width"], first["height"])


@pytest.mark.skipif(not REAL_CUB.is_dir(), reason="the real partial CUB copy is not on this machine")
def test_track_runs_on_the_real_partial_copy(tmp_path, capsys):
    """The smoke grid of two methods on real photographs, through the CLI, and its leaderboard: one box per
    image, so the multi-object recall is absent rather than an invalid job."""
    import pandas as pd

    from harness.cli import main

    data = tmp_path / "data"
    data.mkdir()
    (data / "cub_200_2011").symlink_to(REAL_CUB.parent)
    results = tmp_path / "results"
    args = ["--budget", "smoke", "--dataset", "cub_200_2011", "--data-root", str(data), "--results", str(results)]
    assert main(["run", "wsol", *args, "--methods", "center-box,cam", "--no-progress", "--leaderboard"]) == 0
    rows = pd.concat(pd.read_parquet(p) for p in (results / "runs" / "wsol").glob("*.parquet"))
    assert set(rows["status"]) == {"ok"} and set(rows["method"]) == {"center-box", "cam"}
    main_rows = rows[rows["metric"] == "gt_known_loc"]
    assert main_rows["n_test"].eq(20).all() and main_rows["value"].between(0.0, 1.0).all()
    board = pd.read_csv(results / "leaderboards" / "wsol.csv")
    assert {"center-box", "cam"} <= set(board["method"])
