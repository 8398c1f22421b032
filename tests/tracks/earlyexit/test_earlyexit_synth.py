"""The synthetic CIFAR-10-layout default: deterministic, read by the CIFAR loader, with a real spread of difficulty."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harness.cards import load_card
from harness.tracks.earlyexit import cifar, synth

SEED = 0
TINY = synth.PRESETS["tiny"]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "synth_cifar10"
    synth.generate(root, seed=SEED, **TINY)
    return root


def test_round_trip_through_the_cifar_loader(written):
    index = cifar.load_cifar10(written)
    assert index.class_names == tuple(c[0] for c in synth.CLASSES)
    assert index.images.groupby("split").size().to_dict() == {"train": TINY["n_train"], "test": TINY["n_test"]}
    for split, n_images in (("train", TINY["n_train"]), ("test", TINY["n_test"])):
        labels = index.labels(split)
        np.testing.assert_array_equal(labels, synth.split_labels(n_images, seed=SEED, split=split))
        assert np.bincount(labels, minlength=10).min() == n_images // 10  # balanced
        pixels = index.read(split)
        for i in (0, n_images - 1):
            expected = synth.render_sample(int(labels[i]), index=i, seed=SEED, split=split).image
            np.testing.assert_array_equal(pixels[i], expected)


def test_generation_is_byte_identical_for_a_seed_and_differs_across_seeds(written, tmp_path):
    again = tmp_path / "again"
    synth.generate(again, seed=SEED, **TINY)
    files = sorted(p.relative_to(written) for p in written.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (again / rel).read_bytes() == (written / rel).read_bytes(), rel
    other = tmp_path / "other"
    synth.generate(other, seed=SEED + 1, **TINY)
    assert not np.array_equal(cifar.load_cifar10(other).pixels, cifar.load_cifar10(written).pixels)


def test_manifest_records_difficulty_and_confusers(written):
    manifest = json.loads((written / synth.MANIFEST).read_text())
    assert manifest["parameters"] == {"generator": synth.__name__, "version": synth.VERSION, "seed": SEED, **TINY}
    labels = cifar.load_cifar10(written).labels("train")
    record = manifest["images"]["train"]
    assert all(len(values) == TINY["n_train"] for values in record.values())
    difficulty = np.asarray(record["difficulty"])
    confuser = np.asarray(record["confuser"])
    assert ((difficulty >= 0) & (difficulty <= 1)).all()
    np.testing.assert_array_equal(confuser >= 0, difficulty > synth.CONFUSER_FROM)
    for label, other in zip(labels[confuser >= 0], confuser[confuser >= 0], strict=True):
        _, shape, hue, _ = synth.CLASSES[label]
        assert other != label and (synth.CLASSES[other][1] == shape or synth.CLASSES[other][2] == hue)
    scale = np.asarray(record["scale"])
    assert np.corrcoef(difficulty, scale)[0, 1] < -0.8  # harder images show smaller objects


def test_difficulty_follows_its_beta_distribution():
    difficulty = [synth.render_sample(k % 10, index=k, seed=SEED).difficulty for k in range(300)]
    assert stats.kstest(difficulty, stats.beta(*synth.DIFFICULTY_BETA).cdf).pvalue > 0.01
    assert min(difficulty) < 0.1 and max(difficulty) > 0.8


def test_easy_images_are_separable_and_hard_ones_are_not():
    """A linear model on 8x8 colour thumbnails: near-perfect on easy test images, far worse on hard ones."""
    from sklearn.linear_model import LogisticRegression

    def _set(split, n_images):
        labels = synth.split_labels(n_images, seed=SEED, split=split)
        samples = [synth.render_sample(int(k), index=i, seed=SEED, split=split) for i, k in enumerate(labels)]
        thumbs = np.stack([s.image.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3)).ravel() for s in samples]) / 255.0
        return thumbs, labels, np.asarray([s.difficulty for s in samples])

    x_train, y_train, _ = _set("train", 600)
    x_test, y_test, difficulty = _set("test", 400)
    model = LogisticRegression(max_iter=2000).fit(x_train, y_train)
    correct = model.predict(x_test) == y_test
    easy, hard = correct[difficulty < 0.25].mean(), correct[difficulty > 0.6].mean()
    assert easy > 0.7 and hard < easy - 0.4, (easy, hard)  # 0.84 and 0.20 with scikit-learn 1.9


def test_parameters_and_existing_folders(written, tmp_path):
    with pytest.raises(ValueError, match=r"n_train of generate must be an int >= 10 .*; got 5"):
        synth.generate(tmp_path / "bad", n_train=5)
    stamp = (written / synth.MANIFEST).stat().st_mtime_ns
    synth.generate(written, seed=SEED, **TINY)  # the very dataset: kept
    assert (written / synth.MANIFEST).stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match=r"must be empty or missing"):
        synth.generate(written, seed=SEED, n_train=200, n_test=50)


def test_card_matches_the_default_preset():
    card = load_card("synth_cifar10")
    assert card.generator_params == {"seed": 0, **synth.PRESETS["default"]}
    preset = synth.PRESETS["default"]
    assert card.expected_counts["all"] == {"train": preset["n_train"], "test": preset["n_test"], "classes": 10}
