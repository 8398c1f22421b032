"""MVTec AD loader and the image/mask readers, on tiny categories written in the real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError, read_images, read_masks
from harness.tracks.anomaly import mvtec_ad, validate_index


def test_index_passes_base_check(mvtec_root, helpers):
    index = mvtec_ad.load_index(mvtec_root, "bottle")
    helpers.check_index(index)
    validate_index(index)
    assert index.groupby("split").size().to_dict() == {"test": 6, "train": 3}
    assert sorted(set(index.defect)) == ["crack", "good", "scratch"]
    row = index[index.defect == "crack"].iloc[0]
    assert row.mask_path.endswith("ground_truth/crack/000_mask.png")
    assert row.image_path.endswith("test/crack/000.png")


def test_list_subsets_and_categories(mvtec_root, helpers):
    helpers.write_mvtec_ad(mvtec_root, "wood")
    (mvtec_root / "license.txt").write_text("cc")
    (mvtec_root / "not_a_category").mkdir()
    assert mvtec_ad.list_subsets(mvtec_root) == ["bottle", "wood"]
    assert mvtec_ad.list_subsets(mvtec_root / "missing") == []
    assert len(mvtec_ad.CATEGORIES) == 15 and "metal_nut" in mvtec_ad.CATEGORIES


def test_accepts_grayscale_and_root_as_str(tmp_path, helpers):
    cat = tmp_path / "grid"
    helpers.write_png(cat / "train" / "good" / "000.png", mode="L")
    helpers.write_png(cat / "test" / "good" / "000.png", mode="L")
    helpers.write_png(cat / "test" / "bent" / "000.png", mode="L")
    helpers.write_mask(cat / "ground_truth" / "bent" / "000_mask.png")
    index = mvtec_ad.load_index(str(tmp_path), "grid")
    helpers.check_index(index)
    assert read_images(index.image_path).shape == (3, helpers.size, helpers.size, 3)


def test_defective_image_without_mask(mvtec_root):
    (mvtec_root / "bottle" / "ground_truth" / "crack" / "001_mask.png").unlink()
    with pytest.raises(DataLayoutError, match=r"image test/crack/001.png has no mask ground_truth/crack/001_mask.png"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_mask_without_image(mvtec_root):
    (mvtec_root / "bottle" / "test" / "scratch" / "000.png").unlink()
    with pytest.raises(
        DataLayoutError, match=r"mask ground_truth/scratch/000_mask.png has no image test/scratch/000.png"
    ):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_mask_size_differs(mvtec_root, helpers):
    helpers.write_mask(mvtec_root / "bottle" / "ground_truth" / "crack" / "000_mask.png", (helpers.size, 20))
    with pytest.raises(
        DataLayoutError,
        match=r"mask ground_truth/crack/000_mask.png is 20x12 \(WxH\) but its image test/crack/000.png is 12x12",
    ):
        mvtec_ad.load_index(mvtec_root, "bottle")


@pytest.mark.parametrize("rel", ["train/good/001.png", "test/crack/000.png", "ground_truth/crack/001_mask.png"])
def test_unreadable_png(mvtec_root, rel):
    (mvtec_root / "bottle" / rel).write_bytes(b"not a png at all")
    what = "mask" if "ground_truth" in rel else "image"
    with pytest.raises(DataLayoutError, match=rf"{what} {rel} cannot be read"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_empty_category(mvtec_root):
    (mvtec_root / "carpet").mkdir()
    with pytest.raises(DataLayoutError, match=r"carpet: the category is empty \(no train/ or test/ folder\)"):
        mvtec_ad.load_index(mvtec_root, "carpet")


def test_empty_defect_folder(mvtec_root):
    (mvtec_root / "bottle" / "test" / "hole").mkdir()
    with pytest.raises(DataLayoutError, match=r"folder test/hole holds no image"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_missing_train_good(mvtec_root):
    for path in (mvtec_root / "bottle" / "train" / "good").iterdir():
        path.unlink()
    (mvtec_root / "bottle" / "train" / "good").rmdir()
    with pytest.raises(DataLayoutError, match=r"folder train/good is missing"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_defect_folder_in_train(mvtec_root, helpers):
    helpers.write_png(mvtec_root / "bottle" / "train" / "crack" / "000.png")
    with pytest.raises(DataLayoutError, match=r"folder train/crack is not allowed"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_wrong_extension(mvtec_root):
    (mvtec_root / "bottle" / "train" / "good" / "notes.txt").write_text("x")
    with pytest.raises(DataLayoutError, match=r"file train/good/notes.txt has extension '.txt'"):
        mvtec_ad.load_index(mvtec_root, "bottle")


def test_missing_root_and_category(tmp_path, mvtec_root):
    with pytest.raises(DataMissingError, match=r"MVTec AD folder .*nowhere does not exist. Download") as info:
        mvtec_ad.load_index(tmp_path / "nowhere", "bottle")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)
    with pytest.raises(DataMissingError, match=r"category 'cable' is not there; present: bottle"):
        mvtec_ad.load_index(mvtec_root, "cable")
    with pytest.raises(DataLayoutError, match=r"must be a category folder name"):
        mvtec_ad.load_index(mvtec_root, "../bottle")


def test_read_images_resize_and_native(mvtec_root):
    index = mvtec_ad.load_index(mvtec_root, "bottle")
    native = read_images(index.image_path)
    assert native.dtype == np.uint8 and native.shape == (9, 12, 12, 3)
    first = np.asarray(Image.open(index.image_path[0]).convert("RGB"))
    np.testing.assert_array_equal(native[0], first)
    assert read_images(index.image_path, 8).shape == (9, 8, 8, 3)
    assert read_images(index.image_path, (6, 10), n_workers=1).shape == (9, 6, 10, 3)
    assert read_images([]).shape[0] == 0


def test_read_masks_good_are_empty(mvtec_root):
    index = mvtec_ad.load_index(mvtec_root, "bottle")
    test = index[index.split == "test"]
    masks = read_masks(test.mask_path, (12, 12))
    assert masks.dtype == bool and masks.shape == (6, 12, 12)
    good = (test.label == 0).to_numpy()
    assert not masks[good].any()
    assert masks[~good].sum(axis=(1, 2)).tolist() == [9, 9, 9, 9]
    assert masks[~good][:, 1:4, 1:4].all()
    assert read_masks(test.mask_path).shape == (6, 12, 12)
    assert read_masks(test.mask_path, (24, 24)).sum() == 4 * 36  # nearest-neighbour upsampling
    with pytest.raises(ValueError, match=r"shape of read_masks must be given"):
        read_masks(["", ""])


def test_read_masks_nonzero_values(tmp_path, helpers):
    ones = helpers.write_mask(tmp_path / "a.png", on=1)
    rgb = tmp_path / "b.png"
    pixels = np.zeros((12, 12, 3), dtype=np.uint8)
    pixels[0, 0, 2] = 7
    Image.fromarray(pixels).save(rgb)
    masks = read_masks([ones, rgb, None], (12, 12))
    assert masks[0].sum() == 9 and masks[1].sum() == 1 and not masks[2].any()


def test_read_errors_name_the_file(mvtec_root, tmp_path):
    index = mvtec_ad.load_index(mvtec_root, "bottle")
    path = Path(index.image_path[4])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header intact, pixel data truncated
    with pytest.raises(DataLayoutError, match=rf"image {path} cannot be decoded"):
        read_images(index.image_path, 8)
    with pytest.raises(DataLayoutError, match=r"does not exist"):
        read_images([tmp_path / "missing.png"], 8)
    bad_mask = tmp_path / "bad_mask.png"
    bad_mask.write_bytes(b"garbage")
    with pytest.raises(DataLayoutError, match=rf"mask {bad_mask} cannot be decoded"):
        read_masks([bad_mask], (12, 12))
    with pytest.raises(DataLayoutError, match=r"must share a size"):
        read_images([index.image_path[0], _resized_copy(index.image_path[1], tmp_path)])


def _resized_copy(path: str, folder: Path) -> Path:
    out = folder / "resized.png"
    Image.open(path).resize((5, 5)).save(out)
    return out


def test_validate_index_rejects_broken_frames(mvtec_root):
    index = mvtec_ad.load_index(mvtec_root, "bottle")
    with pytest.raises(ValueError, match=r"sorted by \(split, image_path\)"):
        validate_index(index.iloc[::-1])
    broken = index.copy()
    broken.loc[broken.label == 1, "mask_path"] = ""
    with pytest.raises(ValueError, match=r"must have a mask_path"):
        validate_index(broken)
    with pytest.raises(ValueError, match=r"missing \['mask_path'\]"):
        validate_index(index.drop(columns="mask_path"))
