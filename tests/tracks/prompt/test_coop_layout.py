"""CoOp's split-file layout: reading a written fixture, and every error naming its file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from harness.data import DataLayoutError, DataMissingError
from harness.tracks.prompt import LAYOUTS, load_index, read_split_file, write_split
from harness.tracks.prompt.loaders import list_subsets_eurosat, load_eurosat, load_image_folder, load_oxford_pets

NAMES = ("Annual Crop Land", "Forest", "Sea or Lake")


def _write_eurosat(root, *, per_class=2):
    splits = {"train": [], "val": [], "test": []}
    for label, name in enumerate(NAMES):
        folder = name.replace(" ", "")
        (root / "2750" / folder).mkdir(parents=True, exist_ok=True)
        for split in splits:
            for i in range(per_class):
                rel = f"{folder}/{folder}_{split}{i}.jpg"
                pixels = np.full((8, 8, 3), 40 * label + i, dtype=np.uint8)
                Image.fromarray(pixels).save(root / "2750" / rel)
                splits[split].append((rel, label, name))
    write_split(root / "split_zhou_EuroSAT.json", splits)
    return splits


def test_reads_paths_labels_and_class_names_from_the_split_file(tmp_path):
    _write_eurosat(tmp_path)
    index = load_eurosat(tmp_path)
    assert index.class_names == NAMES
    assert index.labels["train"].tolist() == [0, 0, 1, 1, 2, 2]
    assert index.paths["test"][0] == "AnnualCropLand/AnnualCropLand_test0.jpg"
    images = index.read("train", np.array([2, 3]), 16)
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert list_subsets_eurosat(tmp_path)[0] == "shots1"


def test_split_file_round_trips(tmp_path):
    splits = _write_eurosat(tmp_path)
    read = read_split_file(tmp_path / "split_zhou_EuroSAT.json")
    assert read == {k: [tuple(t) for t in v] for k, v in splits.items()}


def test_missing_split_file_and_image_folder(tmp_path):
    with pytest.raises(DataMissingError, match="split_zhou_OxfordPets.json does not exist"):
        load_oxford_pets(tmp_path)
    write_split(tmp_path / "split_zhou_OxfordPets.json", {"train": [], "val": [], "test": []})
    with pytest.raises(DataMissingError, match="image folder images/ is missing"):
        load_oxford_pets(tmp_path)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        pytest.param("{not json", "not readable JSON", id="corrupt"),
        pytest.param(json.dumps({"train": [], "test": []}), "must hold the keys train, val, test", id="no-val"),
        pytest.param(json.dumps({"train": [["a.jpg", 0]], "val": [], "test": []}), "entry 0 of 'train'", id="pair"),
        pytest.param(json.dumps({"train": "a.jpg", "val": [], "test": []}), "'train' must be a list", id="str"),
    ],
)
def test_malformed_split_file_names_the_file(tmp_path, payload, match):
    path = tmp_path / "split_zhou_EuroSAT.json"
    path.write_text(payload)
    with pytest.raises(DataLayoutError, match=match):
        read_split_file(path)


def test_label_with_two_names_empty_class_and_missing_image(tmp_path):
    splits = _write_eurosat(tmp_path)
    path = tmp_path / "split_zhou_EuroSAT.json"
    renamed = {**splits, "val": [(splits["val"][0][0], 0, "Crops")]}
    write_split(path, renamed)
    with pytest.raises(DataLayoutError, match="label 0 is named 'Annual Crop Land' and 'Crops'"):
        load_eurosat(tmp_path)
    write_split(path, {**splits, "test": [t for t in splits["test"] if t[1] != 1]})
    with pytest.raises(DataLayoutError, match="class 'Forest' has no image in 'test'"):
        load_eurosat(tmp_path)
    write_split(path, splits)
    (tmp_path / "2750" / splits["test"][0][0]).unlink()
    with pytest.raises(DataLayoutError, match="image 2750/AnnualCropLand/AnnualCropLand_test0.jpg listed in 'test'"):
        load_index(tmp_path, LAYOUTS["eurosat"])


def test_image_folder_reads_as_a_coop_index_with_readable_names(tmp_path):
    for split in ("train", "val"):
        for name in ("golden_retriever", "tabby_cat"):
            (tmp_path / split / name).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / split / name / f"{i}.png")
    index = load_image_folder(tmp_path)
    assert index.class_names == ("golden retriever", "tabby cat")
    assert len(index.paths["train"]) == 4 and len(index.paths["test"]) == 4 and not index.paths["val"]
    assert index.read("test", np.arange(4), 8).shape == (4, 8, 8, 3)
