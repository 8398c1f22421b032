"""Synthetic CUB-layout generator: read by the real loader, deterministic, exact boxes, hard enough, atomic."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cards import load_card
from harness.tracks.wsol import cub, synth

TINY = dict(synth.PRESETS["tiny"])


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth_cub") / "data"
    synth.generate(root, seed=0, **TINY)
    return root


@pytest.fixture(scope="module")
def tiny_index(tiny_root):
    return cub.load_index(tiny_root)


def test_the_cub_loader_reads_it(tiny_index):
    frame = tiny_index.images
    n_classes = len(synth.CLASSES)
    assert n_classes >= 10 and tiny_index.n_classes == n_classes
    assert tiny_index.class_names[0] == "001.Red_star" and tiny_index.class_names[9] == "010.Green_arrow"
    assert frame.groupby("split").size().to_dict() == {"train": 10 * TINY["n_train"], "test": 10 * TINY["n_test"]}
    assert (frame.groupby("label").size() == TINY["n_train"] + TINY["n_test"]).all()
    for row in frame.itertuples():
        with Image.open(row.path) as image:
            assert image.format == "JPEG" and image.size == (row.width, row.height)


def test_images_vary_in_size_and_are_not_square(tiny_index):
    frame = tiny_index.images
    assert frame["width"].between(96, 160).all() and frame["height"].between(96, 160).all()
    assert frame["width"].nunique() > 20 and frame["height"].nunique() > 20
    assert (frame["width"] != frame["height"]).mean() > 0.9


def test_boxes_lie_inside_their_images_and_some_images_hold_several(tiny_index):
    frame = tiny_index.images.set_index("image_id")
    counts = {i: len(b) for i, b in tiny_index.boxes.items()}
    for image_id, boxes in tiny_index.boxes.items():
        width, height = frame.loc[image_id, ["width", "height"]]
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= width).all() and (boxes[:, 3] <= height).all()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    multi = frame.index[[counts[i] >= 2 for i in frame.index]]
    assert set(frame.loc[multi, "split"]) == {"train", "test"}
    assert set(frame.loc[multi, "label"]) == set(range(10)), "every class has multi-object images"
    assert max(counts.values()) <= 3


def test_written_boxes_are_those_of_render_sample(tiny_root, tiny_index):
    manifest = json.loads((tiny_root / synth.MANIFEST).read_text())
    assert manifest["parameters"]["version"] == synth.VERSION
    frame = tiny_index.images.set_index("image_id")
    for key in ("3", "8", "41", "77"):
        record = manifest["images"][key]
        label = int(frame.loc[int(key), "label"])
        number = int(Path(record["path"]).stem.rsplit("_", 1)[1])
        index = number - 1 - (TINY["n_train"] if record["split"] == "test" else 0)
        sample = synth.render_sample(label, index=index, split=record["split"], n_objects=record["n_objects"])
        np.testing.assert_array_equal(tiny_index.boxes[int(key)], sample.boxes)
        assert record["n_objects"] == len(sample.boxes) == len(record["scale"]) == len(record["occlusion"])
        written = np.asarray(Image.open(frame.loc[int(key), "path"]), dtype=np.float64)
        assert np.abs(written - sample.image).mean() < 4, "the JPEG is the rendered image at quality 90"


@pytest.mark.parametrize(("label", "n_objects"), [(0, 1), (1, 2), (4, 3), (6, 2), (9, 1)])
def test_each_box_is_the_bounding_box_of_its_visible_mask(label, n_objects):
    for index in range(4):
        sample = synth.render_sample(label, index=index, split="test", n_objects=n_objects)
        height, width = sample.image.shape[:2]
        assert sample.masks.shape == (n_objects, height, width) and sample.boxes.shape == (n_objects, 4)
        for mask, box in zip(sample.masks, sample.boxes, strict=True):
            rows, cols = np.nonzero(mask)
            assert box.tolist() == [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        for occlusion in sample.occlusions:
            assert 0 <= occlusion <= 0.7
        if n_objects > 1:
            for a in range(n_objects):
                others = np.delete(sample.boxes, a, axis=0)
                assert (_iou(sample.boxes[a], others) < 0.5).all(), "objects overlap lightly at most"


def test_same_seed_gives_identical_bytes(tiny_root, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, seed=0, **TINY)
    assert _digest(again) == _digest(tiny_root)


def test_other_seed_gives_other_images(tiny_root, tmp_path):
    other = tmp_path / "other"
    synth.generate(other, seed=1, **TINY)
    ours, theirs = _digest(tiny_root), _digest(other)
    jpegs = [name for name in theirs if name.endswith(".jpg")]
    assert jpegs and all(ours[name] != theirs[name] for name in jpegs)


def test_a_fixed_centre_box_scores_low(tiny_index):
    hits = []
    for row in tiny_index.images.itertuples():
        best = 0.0
        for f in (0.3, 0.5, 0.7):
            box = np.array(
                [row.width * (1 - f) / 2, row.height * (1 - f) / 2, row.width * (1 + f) / 2, row.height * (1 + f) / 2]
            )
            best = max(best, float(_iou(box, tiny_index.boxes[row.image_id]).max()))
        hits.append(best >= 0.5)
    assert np.mean(hits) < 0.25


def test_scale_and_occlusion_vary(tiny_root):
    records = json.loads((tiny_root / synth.MANIFEST).read_text())["images"].values()
    scales = np.concatenate([r["scale"] for r in records])
    occlusions = np.concatenate([r["occlusion"] for r in records])
    assert scales.min() < 0.25 and scales.max() > 0.5
    assert 0.1 < (occlusions > 0.05).mean() < 0.6 and occlusions.max() <= 0.7


def test_classes_combine_shape_colour_and_texture():
    triples = [(shape, hue, texture) for _, shape, hue, texture in synth.CLASSES]
    assert len(set(triples)) == len(triples) >= 10
    shapes = [t[0] for t in triples]
    hues = [t[1] for t in triples]
    assert len(set(shapes)) < len(shapes) and len(set(hues)) < len(hues), "some classes share a shape or a colour"
    assert {t[2] for t in triples} >= {"plain", "stripes", "dots", "checks", "gradient"}


def test_object_counts_are_stratified():
    counts = synth.object_counts(2, "train", 50, seed=3)
    assert (counts >= 2).sum() == 14 and (counts == 3).sum() == 5
    np.testing.assert_array_equal(counts, synth.object_counts(2, "train", 50, seed=3))
    assert not np.array_equal(counts, synth.object_counts(3, "train", 50, seed=3))


def test_existing_root(tiny_root, tmp_path):
    before = _digest(tiny_root)
    synth.generate(tiny_root, seed=0, **TINY)  # the same dataset: kept as is
    assert _digest(tiny_root) == before
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "note.txt").write_text("x")
    with pytest.raises(FileExistsError, match=r"must be empty or missing; it holds other files"):
        synth.generate(busy, **TINY, n_classes=2)
    synth.generate(busy, **TINY, n_classes=2, overwrite=True)
    assert cub.load_index(busy).n_classes == 2 and not (busy / "note.txt").exists()
    with pytest.raises(FileExistsError):
        synth.generate(busy, **TINY, n_classes=3)


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    def _boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(synth, "jpeg_bytes", _boom)
    with pytest.raises(OSError, match="disk full"):
        synth.generate(tmp_path / "data", **TINY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_train": 0}, r"n_train of generate must be an int >= 1; got 0"),
        ({"n_classes": 11}, r"n_classes of generate must be at most 10; got 11"),
        ({"min_side": 170}, r"must satisfy 48 <= min_side <= max_side"),
        ({"multi_share": 1.5}, r"multi_share of generate must be in \[0, 1\]; got 1.5"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synth.generate(tmp_path / "data", **{**TINY, **kwargs})
    assert not (tmp_path / "data").exists()


def test_render_sample_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"label must be one of 0, 1, .*; got 10"):
        synth.render_sample(10)
    with pytest.raises(ValueError, match=r"split must be one of train, test; got 'val'"):
        synth.render_sample(0, split="val")
    with pytest.raises(ValueError, match=r"n_objects must be one of 1, 2, 3; got 4"):
        synth.render_sample(0, n_objects=4)


def test_card_matches_the_default_preset():
    card = load_card("synth_cub")
    assert card.generator == "harness.tracks.wsol.synth:generate" and card.track == "wsol"
    params = dict(card.generator_params)
    assert params.pop("seed") == 0 and params == dict(synth.PRESETS["default"])
    n_classes = len(synth.CLASSES)
    assert card.expected_counts["all"] == {
        "train": n_classes * params["n_train"],
        "test": n_classes * params["n_test"],
        "classes": n_classes,
    }
