"""Synthetic MVTec AD generator: layout, determinism, exact masks, atomic writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import read_masks
from harness.tracks.anomaly import mvtec_ad, synth

#: Small enough that one generation of every category takes well under a second.
TINY = {"image_size": 48, "n_train": 2, "n_test_good": 2, "n_test_defect_per_kind": 2}


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    synth.generate(root, seed=0, **TINY)
    return root


def test_every_category_and_defect_kind_is_written(tiny_root, helpers):
    assert mvtec_ad.list_subsets(tiny_root) == sorted(synth.CATEGORIES)
    assert len(synth.CATEGORIES) >= 5
    for category in synth.CATEGORIES:
        index = mvtec_ad.load_index(tiny_root, category)
        helpers.check_index(index)
        assert len(synth.DEFECTS[category]) >= 3
        assert sorted(set(index.defect)) == sorted({"good", *synth.DEFECTS[category]})
        assert (index.split == "train").sum() == TINY["n_train"]
        assert ((index.split == "test") & (index.label == 0)).sum() == TINY["n_test_good"]
        per_kind = index[index.label == 1].groupby("defect").size()
        assert (per_kind == TINY["n_test_defect_per_kind"]).all()


def test_images_and_masks_are_well_formed(tiny_root):
    index = mvtec_ad.load_index(tiny_root, "pcb")
    for path in index.image_path:
        with Image.open(path) as image:
            assert image.mode == "RGB" and image.size == (48, 48)
    anomalous = index[index.label == 1]
    for path in anomalous.mask_path:
        values = np.unique(np.asarray(Image.open(path)))
        assert set(values.tolist()) == {0, 255}
    masks = read_masks(anomalous.mask_path, (48, 48))
    areas = masks.sum(axis=(1, 2))
    assert (areas >= 3).all() and (areas < 0.5 * 48 * 48).all()


def test_same_seed_gives_identical_bytes(tiny_root, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, seed=0, **TINY)
    assert _digest(again) == _digest(tiny_root)


def test_other_seed_gives_other_images(tiny_root, tmp_path):
    other = tmp_path / "other"
    synth.generate(other, seed=1, categories=("wood", "nut"), **TINY)
    ours, theirs = _digest(tiny_root), _digest(other)
    shared = [name for name in theirs if name.endswith(".png")]
    assert shared and all(ours[name] != theirs[name] for name in shared if "ground_truth" not in name)


def test_category_subset_matches_full_generation(tiny_root, tmp_path):
    part = tmp_path / "part"
    synth.generate(part, seed=0, categories=("fabric",), **TINY)
    full = _digest(tiny_root)
    for name, digest in _digest(part).items():
        if name.startswith("fabric/"):
            assert full[name] == digest, name


@pytest.mark.parametrize(
    ("category", "defect"),
    [("brick", "crack"), ("grass", "contamination"), ("nut", "missing"), ("pcb", "misplaced"), ("wood", "stain")],
)
def test_mask_is_exactly_the_changed_pixels(tiny_root, category, defect):
    manifest = json.loads((tiny_root / synth.MANIFEST).read_text())
    for stem, severity in manifest["categories"][category]["severity"][defect].items():
        sample = synth.render_sample(category, defect, index=int(stem), seed=0, image_size=48, severity=severity)
        written = np.asarray(Image.open(tiny_root / category / "test" / defect / f"{stem}.png"))
        mask = np.asarray(Image.open(tiny_root / category / "ground_truth" / defect / f"{stem}_mask.png")) > 0
        np.testing.assert_array_equal(written, sample.image)
        np.testing.assert_array_equal(mask, (sample.image != sample.clean).any(axis=-1))
        assert mask.any()


def test_severity_scales_the_defect():
    areas = {}
    for severity in (0.0, 1.0):
        masks = [
            synth.render_sample("fabric", "stain", index=i, image_size=96, severity=severity).mask for i in range(4)
        ]
        areas[severity] = np.mean([m.sum() for m in masks])
    assert areas[1.0] > 10 * areas[0.0]
    contrast = []
    for severity in (0.05, 1.0):
        sample = synth.render_sample("wood", "scratch", index=1, image_size=96, severity=severity)
        diff = np.abs(sample.image.astype(int) - sample.clean.astype(int)).max(axis=-1)[sample.mask]
        contrast.append(diff.mean())
    assert contrast[0] < 15 < contrast[1]


def test_severities_are_stratified():
    levels = synth.severities("brick", "crack", 5, seed=3)
    assert sorted(np.floor(levels * 5).astype(int).tolist()) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(levels, synth.severities("brick", "crack", 5, seed=3))


def test_good_samples_are_clean():
    sample = synth.render_sample("gravel", "good", index=2, split="train", image_size=40)
    assert not sample.mask.any() and (sample.image == sample.clean).all()


def test_existing_root(tiny_root, tmp_path):
    before = _digest(tiny_root)
    synth.generate(tiny_root, seed=0, **TINY)  # the same dataset: kept as is
    assert _digest(tiny_root) == before
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "note.txt").write_text("x")
    with pytest.raises(FileExistsError, match=r"must be empty or missing; it holds other files"):
        synth.generate(busy, **TINY, categories=("nut",))
    synth.generate(busy, **TINY, categories=("nut",), overwrite=True)
    assert mvtec_ad.list_subsets(busy) == ["nut"] and not (busy / "note.txt").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    synth.generate(empty, **TINY, categories=("nut",))
    assert mvtec_ad.list_subsets(empty) == ["nut"]


def test_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    def _boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(synth, "_save", _boom)
    with pytest.raises(OSError, match="disk full"):
        synth.generate(tmp_path / "data", **TINY, categories=("nut",))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"categories": ("bottle",)}, r"each of categories must be one of brick, .*; got 'bottle'"),
        ({"categories": "nut"}, r"categories must be None or a non-empty sequence"),
        ({"image_size": 16}, r"image_size must be an int >= 32; got 16"),
        ({"n_train": 0}, r"n_train must be an int >= 1; got 0"),
    ],
)
def test_bad_parameters(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        synth.generate(tmp_path / "data", **{**TINY, **kwargs})
    assert not (tmp_path / "data").exists()


def test_render_sample_rejects_unknown_defect():
    with pytest.raises(
        ValueError, match=r"defect of category 'nut' must be one of contamination, crack, missing, scratch; got 'hole'"
    ):
        synth.render_sample("nut", "hole")


def test_presets_are_valid(tmp_path):
    assert set(synth.PRESETS) == {"default", "tiny"}
    synth.generate(tmp_path / "tiny", **synth.PRESETS["tiny"])
    index = mvtec_ad.load_index(tmp_path / "tiny", synth.PRESETS["tiny"]["categories"][0])
    assert len(index) == 8 + 4 + 2 * len(synth.DEFECTS["nut"])
