"""scikit-learn's digits written in the CIFAR-10 layout: real pixels, a fixed stratified split, one loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from harness.cards import load_card, resolve_dataset
from harness.tracks.earlyexit import cifar, sklearn_digits


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("digits") / "sklearn_digits"
    sklearn_digits.generate(root, seed=0)
    return root


def test_round_trip_through_the_cifar_loader(written):
    index = cifar.load_cifar10(written)
    digits = load_digits()
    manifest = json.loads((written / sklearn_digits.MANIFEST).read_text())
    assert index.class_names == tuple("0123456789")
    for split in ("train", "test"):
        rows = np.asarray(manifest["source_rows"][split])
        np.testing.assert_array_equal(index.labels(split), digits.target[rows])
        np.testing.assert_array_equal(index.read(split), sklearn_digits.upscale(digits.images[rows]))
    card = load_card("sklearn_digits")
    counts = index.images.groupby("split").size().to_dict()
    assert card.expected_counts["all"] == {**counts, "classes": index.n_classes}
    assert manifest["parameters"]["seed"] == card.generator_params["seed"]


def test_split_is_stratified_disjoint_and_fixed_by_the_seed():
    labels = load_digits().target
    train, test = sklearn_digits.split_rows(labels, seed=0, test_fraction=0.2)
    assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == len(labels)
    for label in range(10):
        assert (labels[test] == label).sum() == round(0.2 * (labels == label).sum())
    again = sklearn_digits.split_rows(labels, seed=0, test_fraction=0.2)
    other = sklearn_digits.split_rows(labels, seed=1, test_fraction=0.2)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(other[1], test)


def test_upscale_keeps_grey_levels_and_channels():
    image = np.zeros((1, 8, 8))
    image[0, :, 4:] = 16.0
    out = sklearn_digits.upscale(image)
    assert out.shape == (1, 32, 32, 3) and out.dtype == np.uint8
    assert out[0, :, :12].max() == 0 and out[0, :, 20:].min() == 255
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_generation_is_byte_identical_and_cached(written, tmp_path):
    again = tmp_path / "again"
    sklearn_digits.generate(again, seed=0)
    for path in sorted(p for p in written.rglob("*") if p.is_file()):
        assert (again / path.relative_to(written)).read_bytes() == path.read_bytes(), path.name
    stamp = (again / "cifar-10-batches-py" / "test_batch").stat().st_mtime_ns
    sklearn_digits.generate(again, seed=0)  # same parameters: kept as is
    assert (again / "cifar-10-batches-py" / "test_batch").stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match=r"must be empty or missing; it holds other files"):
        sklearn_digits.generate(again, seed=1)
    with pytest.raises(ValueError, match=r"test_fraction of generate must be in \(0, 1\); got 1\.0"):
        sklearn_digits.generate(tmp_path / "bad", test_fraction=1.0)


def test_card_generates_on_first_use(tmp_path):
    card = load_card("sklearn_digits")
    folder = resolve_dataset(card, tmp_path)
    assert folder == tmp_path / "sklearn_digits" / f"v{sklearn_digits.VERSION}-seed0"
    assert cifar.list_subsets_cifar10(folder) == ["all"]
