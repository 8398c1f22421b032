"""VisA loader on a tiny archive written in the real layout (split_csv/1cls.csv + Data/ folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.data import DataLayoutError, DataMissingError, read_masks
from harness.tracks.anomaly import visa

HEADER = "object,split,label,image,mask\n"


def _write_visa(root: Path, helpers, objects=("candle", "pcb1"), *, mask_on: int = 1) -> Path:
    lines = [HEADER]
    for obj in objects:
        for i in range(3):
            rel = f"{obj}/Data/Images/Normal/{i:04d}.JPG"
            helpers.write_png(root / rel)  # PIL reads by content, not by extension
            lines.append(f"{obj},{'train' if i < 2 else 'test'},normal,{rel},\n")
        for i in range(2):
            rel = f"{obj}/Data/Images/Anomaly/{i:03d}.JPG"
            mask = f"{obj}/Data/Masks/Anomaly/{i:03d}.png"
            helpers.write_png(root / rel)
            helpers.write_mask(root / mask, on=mask_on)
            lines.append(f"{obj},test,anomaly,{rel},{mask}\n")
    (root / "split_csv").mkdir(parents=True, exist_ok=True)
    (root / "split_csv" / "1cls.csv").write_text("".join(lines))
    return root


def _rewrite(root: Path, old: str, new: str) -> None:
    path = root / "split_csv" / "1cls.csv"
    path.write_text(path.read_text().replace(old, new, 1))


def test_index_passes_base_check(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    index = visa.load_index(root, "candle")
    helpers.check_index(index)
    assert index.groupby("split").size().to_dict() == {"test": 3, "train": 2}
    assert sorted(set(index.defect)) == ["anomaly", "good"]
    assert visa.list_subsets(root) == ["candle", "pcb1"]
    assert visa.list_subsets(tmp_path / "missing") == []
    assert len(visa.CATEGORIES) == 12


def test_masks_with_value_one_are_anomalous(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers, mask_on=1)
    test = visa.load_index(root, "pcb1").query("split == 'test'")
    masks = read_masks(test.mask_path, (helpers.size, helpers.size))
    assert masks.sum(axis=(1, 2)).tolist() == [9, 9, 0]


def test_missing_split_file(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    (root / "split_csv" / "1cls.csv").unlink()
    with pytest.raises(DataMissingError, match=r"split file split_csv/1cls.csv is missing"):
        visa.load_index(root, "candle")


def test_missing_column(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    _rewrite(root, "mask\n", "segmentation\n")
    with pytest.raises(DataLayoutError, match=r"must have the columns object, split, label, image, mask; missing mask"):
        visa.load_index(root, "candle")


def test_bad_label(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    _rewrite(root, "normal", "ok")
    with pytest.raises(DataLayoutError, match=r"1cls.csv line 2: label must be one of normal, anomaly; got 'ok'"):
        visa.load_index(root, "candle")


def test_anomaly_without_mask(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    _rewrite(root, ",candle/Data/Masks/Anomaly/000.png", ",")
    with pytest.raises(DataLayoutError, match=r"anomalous image candle/Data/Images/Anomaly/000.JPG has no mask"):
        visa.load_index(root, "candle")


def test_listed_mask_missing(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    (root / "candle/Data/Masks/Anomaly/001.png").unlink()
    with pytest.raises(
        DataLayoutError,
        match=r"mask candle/Data/Masks/Anomaly/001.png \(listed in split_csv/1cls.csv line 6\) does not exist",
    ):
        visa.load_index(root, "candle")


def test_mask_size_differs(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    helpers.write_mask(root / "candle/Data/Masks/Anomaly/000.png", (30, 12))
    with pytest.raises(DataLayoutError, match=r"mask candle/Data/Masks/Anomaly/000.png is 12x30 \(WxH\) but its image"):
        visa.load_index(root, "candle")


def test_unreadable_image(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    (root / "candle/Data/Images/Normal/0001.JPG").write_bytes(b"\xff\xd8 broken")
    with pytest.raises(DataLayoutError, match=r"image candle/Data/Images/Normal/0001.JPG cannot be read"):
        visa.load_index(root, "candle")


def test_unknown_object(tmp_path, helpers):
    root = _write_visa(tmp_path, helpers)
    with pytest.raises(DataMissingError, match=r"object 'cashew' is not in split_csv/1cls.csv; present: candle, pcb1"):
        visa.load_index(root, "cashew")
