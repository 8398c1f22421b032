"""ImageNet WSOL loader: a tiny fake tree in the official layout (train folders, flat val, VOC XML boxes)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.wsol import INDEX_COLUMNS, imagenet

SEED = 0
WNIDS = ("n00000001", "n00000002")


def _jpeg(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, width, height])
    Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)).save(path, format="JPEG")


def _xml(path: Path, width: int, height: int, objects: list[tuple[str, tuple[float, ...]]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    parts = [f"<annotation><folder>val</folder><filename>{path.stem}</filename>"]
    parts.append(f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>")
    for name, (x0, y0, x1, y1) in objects:
        parts.append(
            f"<object><name>{name}</name><bndbox><xmin>{x0:g}</xmin><ymin>{y0:g}</ymin>"
            f"<xmax>{x1:g}</xmax><ymax>{y1:g}</ymax></bndbox></object>"
        )
    path.write_text("".join(parts) + "</annotation>\n")


def _val(i: int) -> str:
    return f"ILSVRC2012_val_{i:08d}"


def write_imagenet(root: Path) -> Path:
    """Two classes of two training images; val 1 (class 1, XML beside it), val 2 (class 2, two objects, XML in
    bbox_val/val/), val 3 (class n00000099, unknown: skipped, XML in bbox_val/)."""
    for k, wnid in enumerate(WNIDS):
        for j in range(2):
            _jpeg(root / "train" / wnid / f"{wnid}_{j}.JPEG", 20 + k, 18 + j)
    _jpeg(root / "val" / f"{_val(1)}.JPEG", 30, 20)
    _xml(root / "val" / f"{_val(1)}.xml", 30, 20, [(WNIDS[0], (2, 3, 12, 15))])
    _jpeg(root / "val" / f"{_val(2)}.JPEG", 24, 28)
    two = [(WNIDS[1], (0, 0, 10, 10)), (WNIDS[1], (12, 5, 24, 28))]
    _xml(root / "bbox_val" / "val" / f"{_val(2)}.xml", 24, 28, two)
    _jpeg(root / "val" / f"{_val(3)}.JPEG", 16, 16)
    _xml(root / "bbox_val" / f"{_val(3)}.xml", 16, 16, [("n00000099", (1, 1, 5, 5))])
    (root / imagenet.SYNSET_FILE).write_text(
        "n00000001 tench, Tinca tinca\nn00000002 goldfish, Carassius auratus\nn00000099 other\n"
    )
    return root


@pytest.fixture
def net_root(tmp_path: Path) -> Path:
    return write_imagenet(tmp_path / "imagenet")


def test_index_of_a_tiny_tree(net_root):
    index = imagenet.load_index(net_root)
    frame = index.images
    assert list(frame.columns) == list(INDEX_COLUMNS)
    assert index.class_names == ("tench, Tinca tinca", "goldfish, Carassius auratus")
    assert frame["image_id"].tolist() == [0, 1, 2, 3, 4, 5]
    assert frame["split"].tolist() == ["train"] * 4 + ["test"] * 2
    assert frame["label"].tolist() == [0, 0, 1, 1, 0, 1]
    assert frame["width"].tolist() == [20, 20, 21, 21, 30, 24]
    assert frame["height"].tolist() == [18, 19, 18, 19, 20, 28]
    assert frame.loc[4, "path"] == str(net_root / "val" / f"{_val(1)}.JPEG")
    assert sorted(index.boxes) == [4, 5], "only validation images have boxes"
    np.testing.assert_array_equal(index.boxes[4], [[2.0, 3.0, 12.0, 15.0]])
    np.testing.assert_array_equal(index.boxes[5], [[0.0, 0.0, 10.0, 10.0], [12.0, 5.0, 24.0, 28.0]])


def test_unknown_class_is_skipped_and_logged(net_root, caplog):
    with caplog.at_level(logging.INFO, logger=imagenet.__name__):
        index = imagenet.load_index(net_root)
    assert not any(_val(3) in p for p in index.images["path"])
    assert "skipped 1 validation images" in caplog.text


def test_names_default_to_wnids(net_root):
    (net_root / imagenet.SYNSET_FILE).unlink()
    assert imagenet.load_index(net_root).class_names == WNIDS


def test_val_in_class_folders_is_accepted(net_root):
    (net_root / "val" / WNIDS[0]).mkdir()
    (net_root / "val" / f"{_val(1)}.JPEG").rename(net_root / "val" / WNIDS[0] / f"{_val(1)}.JPEG")
    test = imagenet.load_index(net_root).images.iloc[-2:]
    assert test["path"].str.endswith(f"val/{WNIDS[0]}/{_val(1)}.JPEG").tolist() == [False, True]
    assert test["label"].tolist() == [1, 0], "rows in sorted path order; the label comes from the XML"


def test_val_folder_must_match_the_class_of_its_box_file(net_root):
    (net_root / "val" / WNIDS[1]).mkdir()
    (net_root / "val" / f"{_val(1)}.JPEG").rename(net_root / "val" / WNIDS[1] / f"{_val(1)}.JPEG")
    with pytest.raises(
        DataLayoutError, match=rf"image val/{WNIDS[1]}/{_val(1)}.JPEG is in folder val/{WNIDS[1]} but its box file"
    ):
        imagenet.load_index(net_root)


def test_list_subsets(net_root, tmp_path):
    assert imagenet.list_subsets(net_root) == ["all"]
    assert imagenet.list_subsets(tmp_path / "nowhere") == []
    (tmp_path / "half" / "train").mkdir(parents=True)
    assert imagenet.list_subsets(tmp_path / "half") == []


def test_xml_without_object(net_root):
    _xml(net_root / "val" / f"{_val(1)}.xml", 30, 20, [])
    with pytest.raises(DataLayoutError, match=rf"box file val/{_val(1)}.xml holds no <object>"):
        imagenet.load_index(net_root)


def test_malformed_xml(net_root):
    (net_root / "bbox_val" / "val" / f"{_val(2)}.xml").write_text("<annotation><size>\n<width>3</size>")
    with pytest.raises(
        DataLayoutError, match=rf"box file bbox_val/val/{_val(2)}.xml is not well-formed XML \(line 2, column"
    ):
        imagenet.load_index(net_root)


def test_box_coordinate_not_a_number(net_root):
    path = net_root / "val" / f"{_val(1)}.xml"
    path.write_text(path.read_text().replace("<ymin>3</ymin>", "<ymin>three</ymin>"))
    with pytest.raises(DataLayoutError, match=rf"val/{_val(1)}.xml: <ymin> must be a number; got 'three'"):
        imagenet.load_index(net_root)


@pytest.mark.parametrize("box", [(2, 3, 40, 15), (-5, 3, 12, 15), (2, 3, 12, 26)])
def test_box_outside_the_image(net_root, box):
    _xml(net_root / "val" / f"{_val(1)}.xml", 30, 20, [(WNIDS[0], box)])
    with pytest.raises(DataLayoutError, match=rf"box file val/{_val(1)}.xml: box .* lies outside the image \(30x20 px"):
        imagenet.load_index(net_root)


def test_box_past_the_border_within_tolerance_is_clipped(net_root):
    _xml(net_root / "val" / f"{_val(1)}.xml", 30, 20, [(WNIDS[0], (0, 3, 31, 20))])
    np.testing.assert_array_equal(imagenet.load_index(net_root).boxes[4], [[0.0, 3.0, 30.0, 20.0]])


def test_box_of_zero_size(net_root):
    _xml(net_root / "val" / f"{_val(1)}.xml", 30, 20, [(WNIDS[0], (5, 3, 5, 15))])
    with pytest.raises(DataLayoutError, match=r"has zero or negative width or height"):
        imagenet.load_index(net_root)


def test_val_jpeg_without_xml(net_root):
    (net_root / "bbox_val" / "val" / f"{_val(2)}.xml").unlink()
    with pytest.raises(
        DataLayoutError,
        match=rf"validation image val/{_val(2)}.JPEG has no box file {_val(2)}.xml in any of val/, bbox_val/val/",
    ):
        imagenet.load_index(net_root)


def test_xml_without_jpeg_is_ignored(net_root):
    _xml(net_root / "bbox_val" / f"{_val(9)}.xml", 16, 16, [(WNIDS[0], (1, 1, 5, 5))])
    assert len(imagenet.load_index(net_root).images) == 6


def test_empty_class_folder(net_root):
    (net_root / "train" / "n00000003").mkdir()
    with pytest.raises(DataLayoutError, match=r"class folder train/n00000003 is empty"):
        imagenet.load_index(net_root)


def test_size_differs_from_the_header(net_root):
    _xml(net_root / "val" / f"{_val(1)}.xml", 31, 20, [(WNIDS[0], (2, 3, 12, 15))])
    with pytest.raises(
        DataLayoutError,
        match=rf"box file val/{_val(1)}.xml gives the size 31x20 \(WxH\) but its image val/{_val(1)}.JPEG is 30x20",
    ):
        imagenet.load_index(net_root)


def test_several_classes_in_one_file(net_root):
    _xml(net_root / "val" / f"{_val(1)}.xml", 30, 20, [(WNIDS[0], (2, 3, 12, 15)), (WNIDS[1], (1, 1, 4, 4))])
    with pytest.raises(DataLayoutError, match=rf"val/{_val(1)}.xml names several classes \(n00000001, n00000002\)"):
        imagenet.load_index(net_root)


def test_corrupt_training_jpeg(net_root):
    (net_root / "train" / WNIDS[1] / f"{WNIDS[1]}_1.JPEG").write_bytes(b"garbage")
    with pytest.raises(DataLayoutError, match=rf"image train/{WNIDS[1]}/{WNIDS[1]}_1.JPEG cannot be read"):
        imagenet.load_index(net_root)


def test_file_with_another_extension(net_root):
    (net_root / "train" / WNIDS[0] / "notes.txt").write_text("x")
    with pytest.raises(DataLayoutError, match=rf"file train/{WNIDS[0]}/notes.txt has extension '.txt'"):
        imagenet.load_index(net_root)


def test_synset_file_lacks_a_class(net_root):
    (net_root / imagenet.SYNSET_FILE).write_text("n00000001 tench\n")
    with pytest.raises(DataLayoutError, match=r"LOC_synset_mapping.txt has no line for class folder train/n00000002"):
        imagenet.load_index(net_root)
    (net_root / imagenet.SYNSET_FILE).write_text("n00000001 tench\nn00000002\n")
    with pytest.raises(DataLayoutError, match=r"LOC_synset_mapping.txt line 2 must read '<wnid> <names>'"):
        imagenet.load_index(net_root)


def test_no_validation_image_of_a_known_class(net_root):
    for i in (1, 2):
        (net_root / "val" / f"{_val(i)}.JPEG").unlink()
    with pytest.raises(DataLayoutError, match=r"no validation image belongs to one of the 2 classes of train/"):
        imagenet.load_index(net_root)


def test_missing_folders(tmp_path):
    with pytest.raises(DataMissingError, match=r"ImageNet \(ILSVRC2012\) folder .*nowhere does not exist"):
        imagenet.load_index(tmp_path / "nowhere")
    (tmp_path / "train").mkdir()
    with pytest.raises(DataMissingError, match=r"folder .*val does not exist"):
        imagenet.load_index(tmp_path)
    (tmp_path / "val").mkdir()
    with pytest.raises(DataLayoutError, match=r"train/ holds no class folder"):
        imagenet.load_index(tmp_path)


def test_track_holds_out_validation_images_when_training_images_have_no_boxes(tmp_path):
    """ImageNet has boxes on validation images only: the held-out split comes from them and leaves the test set."""
    import types

    from harness.tracks.wsol import WsolTrack

    root = write_imagenet(tmp_path / "imagenet")
    for i, wnid in ((4, WNIDS[0]), (5, WNIDS[1])):
        _jpeg(root / "val" / f"{_val(i)}.JPEG", 26, 22)
        _xml(root / "val" / f"{_val(i)}.xml", 26, 22, [(wnid, (1, 2, 20, 18))])
    card = types.SimpleNamespace(name="imagenet_wsol", loader="harness.tracks.wsol.imagenet:load_index")
    track = WsolTrack()
    budget = track.budget("smoke", val_per_class=1, test_max_images=0, train_per_class=0)
    train = track.load_train(root, card, "all", budget)
    truth = track.load_truth(root, card, "all", budget)
    assert len(train.labels) == 4, "every training image stays weakly labelled"
    assert sorted(train.val_labels.tolist()) == [0, 1]
    assert sorted(truth.labels.tolist()) == [0, 1], "the held-out images are not scored"
    paths = set(truth.paths)
    assert str(root / "val" / f"{_val(1)}.JPEG") not in paths and str(root / "val" / f"{_val(2)}.JPEG") not in paths
