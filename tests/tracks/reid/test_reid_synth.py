"""Synthetic Market-1501-layout generator: read by the real loader, deterministic, protocol-complete, not saturated."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cards import load_card
from harness.data.synth._staging import jpeg_bytes
from harness.metrics.retrieval import reid_map_cmc
from harness.registry import load_target
from harness.tracks.reid import _pedestrian, market, synth

TINY = dict(synth.PRESETS["tiny"])
#: Market-1501's file-name rule, as the loader documents it.
NAME = re.compile(r"(?P<pid>-1|\d{4})_c(?P<cam>[1-6])s(?P<seq>[1-6])_(?P<frame>\d{6})_(?P<box>\d{2})\.jpg")


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _names(root: Path) -> dict[str, list[tuple[int, int]]]:
    """Split -> (pid, cam) of every file, parsed from the names alone."""
    out = {}
    for split, folder in synth.FOLDERS.items():
        out[split] = []
        for path in sorted((root / folder).iterdir()):
            match = NAME.fullmatch(path.name)
            assert match, f"{folder}/{path.name} breaks the Market-1501 naming rule"
            out[split].append((int(match["pid"]), int(match["cam"])))
    return out


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth_market") / "data"
    synth.generate(root, seed=0, **TINY)
    return root


@pytest.fixture(scope="module")
def names(tiny_root) -> dict[str, list[tuple[int, int]]]:
    return _names(tiny_root)


def test_the_market_loader_reads_it(tiny_root):
    index = market.load_index(tiny_root)
    counts = synth.image_counts(**TINY)
    assert index.images.groupby("split").size().to_dict() == {k: counts[k] for k in ("train", "query", "gallery")}
    assert index.n_cameras == 6 and index.images["camid"].between(0, 5).all()
    assert market.list_subsets(tiny_root) == ["all"]
    gallery = index.split("gallery")
    assert (gallery["pid"] == 0).sum() == TINY["n_distractors"]
    for path in index.images["path"].iloc[::7]:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (64, 128)


def test_file_names_follow_market_1501_and_are_unique(tiny_root, names):
    files = [p.name for folder in synth.FOLDERS.values() for p in (tiny_root / folder).iterdir()]
    assert len(files) == len(set(files)) == sum(len(v) for v in names.values())
    assert sorted(p.name for p in tiny_root.iterdir()) == sorted([*synth.FOLDERS.values(), synth.MANIFEST])


def test_train_and_test_identities_are_disjoint(names):
    train = {pid for pid, _ in names["train"]}
    test = {pid for pid, _ in names["query"] + names["gallery"] if pid > 0}
    assert len(train) == TINY["n_train_ids"] and len(test) == TINY["n_test_ids"]
    assert not train & test and 0 not in train and -1 not in train
    assert train | test == set(range(1, TINY["n_train_ids"] + TINY["n_test_ids"] + 1))


def test_every_identity_is_seen_by_two_cameras_and_every_query_has_a_cross_camera_match(names):
    for split in ("train", "gallery"):
        cams = defaultdict(set)
        for pid, cam in names[split]:
            cams[pid].add(cam)
        assert all(len(c) >= 2 for pid, c in cams.items() if pid > 0), split
    gallery = defaultdict(set)
    for pid, cam in names["gallery"]:
        gallery[pid].add(cam)
    queries = names["query"]
    assert len(queries) == len(set(queries)) == TINY["n_test_ids"] * 2, "one query per identity and camera, 2 cameras"
    for pid, cam in queries:
        assert pid > 0 and gallery[pid] - {cam}, f"query {pid} c{cam} has no gallery image in another camera"


def test_the_gallery_holds_distractors_and_junk_and_only_the_gallery(names):
    gallery_ids = [pid for pid, _ in names["gallery"]]
    assert gallery_ids.count(0) == TINY["n_distractors"] and gallery_ids.count(-1) == TINY["n_junk"]
    assert all(pid > 0 for pid, _ in names["train"] + names["query"])


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path, tiny_root):
    again, other = tmp_path / "again", tmp_path / "other"
    synth.generate(again, seed=0, **TINY)
    synth.generate(other, seed=1, **TINY)
    assert _digest(again) == _digest(tiny_root)
    first, second = _digest(tiny_root), _digest(other)
    assert set(first) != set(second) or first != second
    images = [k for k in set(first) & set(second) if k.endswith(".jpg")]
    assert all(first[k] != second[k] for k in images)


def test_written_images_are_render_sample(tiny_root):
    manifest = json.loads((tiny_root / synth.MANIFEST).read_text())
    for rel, record in list(manifest["images"].items())[::9]:
        sample = synth.render_sample(record["pid"], record["cam"], index=record["index"], seed=0)
        assert jpeg_bytes(sample.image, synth.JPEG_QUALITY) == (tiny_root / rel).read_bytes(), rel
        assert sample.view == record["view"] and sample.occluder == record["occluder"]


def test_manifest_records_parameters_identities_and_counts(tiny_root):
    manifest = json.loads((tiny_root / synth.MANIFEST).read_text())
    assert manifest["parameters"]["version"] == synth.VERSION and manifest["parameters"]["seed"] == 0
    assert len(manifest["identities"]) == TINY["n_train_ids"] + TINY["n_test_ids"]
    counts = synth.image_counts(**TINY)
    assert manifest["counts"] == {k: counts[k] for k in ("train", "query", "gallery", "distractors", "junk")}
    assert {r["view"] for r in manifest["images"].values()} <= {*synth.VIEWS, "none"}


def test_a_second_call_keeps_the_dataset_and_other_parameters_refuse(tiny_root):
    before = {p: p.stat().st_mtime_ns for p in tiny_root.rglob("*")}
    synth.generate(tiny_root, seed=0, **TINY)
    assert {p: p.stat().st_mtime_ns for p in tiny_root.rglob("*")} == before
    with pytest.raises(FileExistsError, match="must be empty or missing"):
        synth.generate(tiny_root, seed=3, **TINY)


def test_overwrite_replaces_the_dataset(tmp_path):
    root = tmp_path / "data"
    synth.generate(root, seed=0, **TINY)
    synth.generate(root, seed=0, overwrite=True, **{**TINY, "n_junk": 0})
    assert not list((root / "bounding_box_test").glob("-1_*"))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param({"n_cameras": 7}, r"n_cameras of generate must be an int in \[2, 6\]; got 7", id="cameras"),
        pytest.param({"n_query_cams": 4, "n_cameras": 3}, "n_query_cams of generate must be at most", id="queries"),
        pytest.param({"n_train_per_id": 1}, r"n_train_per_id .* \[2, 1000\]; got 1", id="train-per-id"),
        pytest.param({"width": True}, "width of generate must be an int", id="bool"),
        pytest.param({"n_junk": -1}, "n_junk of generate", id="negative"),
        pytest.param({"n_train_ids": 5000, "n_test_ids": 5000}, "at most 9999", id="4-digit-ids"),
        pytest.param({"seed": -1}, "seed of generate must be an int >= 0", id="seed"),
    ],
)
def test_bad_parameters_are_rejected_with_the_rule(tmp_path, params, match):
    with pytest.raises(ValueError, match=match):
        synth.generate(tmp_path / "data", **{**TINY, **params})
    assert not (tmp_path / "data").exists()


def test_render_sample_rejects_bad_cameras_and_identities():
    with pytest.raises(ValueError, match=r"cam of render_sample must be in 1..6; got 0"):
        synth.render_sample(3, 0)
    with pytest.raises(ValueError, match="pid of render_sample must be >= 1, or 0"):
        synth.render_sample(-2, 1)


def test_an_identity_keeps_its_appearance_and_people_share_colours():
    assert synth.appearance(5) == synth.appearance(5) and synth.appearance(5) != synth.appearance(6)
    uppers = [synth.appearance(pid).upper for pid in range(1, 101)]
    assert len(set(uppers)) <= len(_pedestrian.CLOTHES) and max(uppers.count(u) for u in set(uppers)) >= 10


def test_card_matches_the_generator():
    card = load_card("synth_market")
    assert card.track == "reid" and card.main_score == "mAP"
    assert card.splits == ("train", "query", "gallery") and card.subsets == ("all",)
    assert load_target(card.generator) is synth.generate
    assert load_target(card.loader) is market.load_index
    assert load_target(card.subsets_lister) is market.list_subsets
    assert card.expected_counts["all"] == synth.image_counts(**card.generator_params)


def _hsv_stripes(path: Path, n_stripes: int) -> np.ndarray:
    """Joint HSV histogram (8 x 4 x 4 bins) per horizontal stripe, each L1-normalised, square-rooted."""
    hsv = np.asarray(Image.open(path).convert("HSV"), dtype=np.int64)
    bins = (hsv[..., 0] * 8 // 256) * 16 + (hsv[..., 1] * 4 // 256) * 4 + hsv[..., 2] * 4 // 256
    parts = [np.bincount(part.ravel(), minlength=128) / part.size for part in np.array_split(bins, n_stripes)]
    return np.sqrt(np.concatenate(parts))


def test_a_colour_histogram_does_not_solve_it(tmp_path):
    """On 40 test identities (fewer confusers than the default 100) colour histograms stay far from 1."""
    root = tmp_path / "data"
    params = {"n_train_ids": 1, "n_test_ids": 40, "n_train_per_id": 2, "n_distractors": 40, "n_junk": 0}
    synth.generate(root, seed=0, **params)
    index = market.load_index(root)
    query, gallery = index.split("query"), index.split("gallery")
    for n_stripes, (low, high) in ((1, (0.05, 0.45)), (6, (0.1, 0.6))):
        fq = np.stack([_hsv_stripes(Path(p), n_stripes) for p in query["path"]])
        fg = np.stack([_hsv_stripes(Path(p), n_stripes) for p in gallery["path"]])
        distmat = np.sqrt(((fq[:, None] - fg[None]) ** 2).sum(-1))
        args = (query["pid"].to_numpy(), gallery["pid"].to_numpy(), query["camid"].to_numpy())
        score = reid_map_cmc(distmat, *args, gallery["camid"].to_numpy())["mAP"]
        assert low < score < high, (n_stripes, score)
