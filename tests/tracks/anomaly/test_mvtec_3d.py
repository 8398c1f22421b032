"""MVTec 3D-AD loader and point-cloud reader on a tiny category written in the real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from harness.data import DataLayoutError, DataMissingError, read_masks
from harness.tracks.anomaly import mvtec_3d


def _write_sample(folder: Path, stem: str, helpers, *, defect: bool) -> None:
    helpers.write_png(folder / "rgb" / f"{stem}.png")
    xyz = np.random.default_rng(helpers.seed).random((helpers.size, helpers.size, 3)).astype(np.float32)
    (folder / "xyz").mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(folder / "xyz" / f"{stem}.tiff", xyz, photometric="rgb")
    if defect:
        helpers.write_mask(folder / "gt" / f"{stem}.png")


def _write_3d(root: Path, helpers, category: str = "bagel") -> Path:
    cat = root / category
    for i in range(3):
        _write_sample(cat / "train" / "good", f"{i:03d}", helpers, defect=False)
    _write_sample(cat / "validation" / "good", "000", helpers, defect=False)
    _write_sample(cat / "test" / "good", "000", helpers, defect=False)
    for i in range(2):
        _write_sample(cat / "test" / "hole", f"{i:03d}", helpers, defect=True)
    (cat / "calibration").mkdir()
    return root


def test_index_passes_base_check(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    index = mvtec_3d.load_index(root, "bagel")
    helpers.check_index(index, splits=("test", "train", "validation"))
    assert list(index.columns) == ["split", "label", "defect", "image_path", "mask_path", "xyz_path"]
    assert index.groupby("split").size().to_dict() == {"test": 3, "train": 3, "validation": 1}
    assert all(Path(p).suffix == ".tiff" and Path(p).is_file() for p in index.xyz_path)
    assert mvtec_3d.list_subsets(root) == ["bagel"]
    test = index[index.split == "test"]
    assert read_masks(test.mask_path, (helpers.size, helpers.size)).sum() == 18


def test_read_xyz(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    index = mvtec_3d.load_index(root, "bagel")
    xyz = mvtec_3d.read_xyz(index.xyz_path[0])
    assert xyz.dtype == np.float32 and xyz.shape == (helpers.size, helpers.size, 3)
    np.testing.assert_array_equal(xyz, tifffile.imread(index.xyz_path[0]))
    broken = tmp_path / "broken.tiff"
    broken.write_bytes(b"II*\x00 nope")
    with pytest.raises(DataLayoutError, match=rf"point cloud {broken} cannot be decoded"):
        mvtec_3d.read_xyz(broken)
    with pytest.raises(DataLayoutError, match=r"does not exist"):
        mvtec_3d.read_xyz(tmp_path / "missing.tiff")


def test_missing_mask(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    (root / "bagel/test/hole/gt/001.png").unlink()
    with pytest.raises(DataLayoutError, match=r"image test/hole/rgb/001.png has no mask test/hole/gt/001.png"):
        mvtec_3d.load_index(root, "bagel")


def test_missing_point_cloud(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    (root / "bagel/train/good/xyz/002.tiff").unlink()
    with pytest.raises(
        DataLayoutError, match=r"image train/good/rgb/002.png has no point cloud train/good/xyz/002.tiff"
    ):
        mvtec_3d.load_index(root, "bagel")


def test_mask_size_differs(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    helpers.write_mask(root / "bagel/test/hole/gt/000.png", (8, 8))
    with pytest.raises(
        DataLayoutError, match=r"mask test/hole/gt/000.png is 8x8 \(WxH\) but its image test/hole/rgb/000.png is 12x12"
    ):
        mvtec_3d.load_index(root, "bagel")


def test_unreadable_png(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    (root / "bagel/test/good/rgb/000.png").write_bytes(b"\x89PNG nope")
    with pytest.raises(DataLayoutError, match=r"image test/good/rgb/000.png cannot be read"):
        mvtec_3d.load_index(root, "bagel")


def test_layout_errors(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    (root / "foam").mkdir()
    with pytest.raises(DataLayoutError, match=r"foam: the category is empty"):
        mvtec_3d.load_index(root, "foam")
    with pytest.raises(DataMissingError, match=r"category 'tire' is not there; present: bagel"):
        mvtec_3d.load_index(root, "tire")
    _write_sample(root / "bagel" / "validation" / "hole", "000", helpers, defect=True)
    with pytest.raises(DataLayoutError, match=r"folder validation/hole is not allowed"):
        mvtec_3d.load_index(root, "bagel")


def test_missing_train_good(tmp_path, helpers):
    root = _write_3d(tmp_path, helpers)
    (root / "bagel/train/good").rename(root / "bagel/train/ok")
    with pytest.raises(DataLayoutError, match=r"folder train/good/ is missing"):
        mvtec_3d.load_index(root, "bagel")


def test_point_clouds_reach_a_job_as_arrays_at_the_image_size(tmp_path, helpers):
    from harness.cards import load_card
    from harness.tracks.anomaly import AnomalyTrack

    root = _write_3d(tmp_path, helpers)
    index = mvtec_3d.load_index(root, "bagel")
    batch = mvtec_3d.read_xyz_batch(index.xyz_path.tolist(), 6)
    assert batch.shape == (len(index), 6, 6, 3) and batch.dtype == np.float32
    full = tifffile.imread(index.xyz_path[0])
    np.testing.assert_array_equal(batch[0], full[::2, ::2])  # nearest neighbour: no blend across sensor holes
    track = AnomalyTrack()
    budget = track.budget("smoke", image_size=8, mask_size=8)
    inputs = track.load_test_inputs(root, load_card("mvtec_3d"), "bagel", budget)
    assert inputs.xyz.shape == (3, 8, 8, 3) and inputs.images.shape == (3, 8, 8, 3)
    order = np.array([2, 0, 1])
    np.testing.assert_array_equal(inputs.take(order).xyz, inputs.xyz[order])
