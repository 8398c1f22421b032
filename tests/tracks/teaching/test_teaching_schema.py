"""The teaching track's table schema, its grouped folds and the synthetic default written in it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from harness.data.errors import DataLayoutError, DataMissingError
from harness.tracks.teaching import check_split, grouped_folds, load_table, synth

TINY = dict(synth.PRESETS["tiny"])


def _frame(n=12):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": [f"i{k}" for k in range(n)], "teacher": [f"t{k % 4}" for k in range(n)],
        "pleasure": rng.normal(size=n), "arousal": rng.normal(size=n),
        "speech_a": rng.normal(size=n), "speech_b": rng.normal(size=n), "face_x": rng.normal(size=n),
    })


def _write(frame, tmp_path, name="t.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_prefixes_make_the_modalities_and_missing_values_are_reported(tmp_path, name):
    frame = _frame()
    frame.loc[[0, 1, 2], "face_x"] = np.nan
    frame.loc[3, "speech_a"] = np.nan
    table = load_table(_write(frame, tmp_path, name), targets=("pleasure", "arousal"), group="teacher")
    assert table.modalities == ("face", "speech")
    assert table.columns["speech"] == ("speech_a", "speech_b")
    assert table.features["speech"].shape == (12, 2) and table.targets.shape == (12, 2)
    assert table.missing["face"] == {"items": 0.25, "cells": 0.25}
    assert table.missing["speech"] == {"items": 0.0, "cells": 1 / 24}
    np.testing.assert_array_equal(table.targets[:, 1], frame["arousal"].to_numpy())
    part = table.take(np.array([0, 5]))
    assert part.ids.tolist() == ["i0", "i5"] and part.missing["face"]["items"] == 0.5


def test_a_side_file_groups_columns_without_prefixes(tmp_path):
    frame = _frame().rename(columns={"speech_a": "pitch", "speech_b": "energy", "face_x": "smile"})
    side = pd.DataFrame({"column": ["pitch", "energy", "smile"], "modality": ["audio", "audio", "video"]})
    table = load_table(_write(frame, tmp_path), targets=("pleasure",), modality_file=_write(side, tmp_path, "m.csv"))
    assert table.columns == {"audio": ("pitch", "energy"), "video": ("smile",)}
    assert table.groups is None


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda f: f.assign(pleasure=f["pleasure"].where(f.index != 4)), {}, r"target 'pleasure' .* id 'i4'"),
        (lambda f: f.assign(arousal=1.0), {}, r"target 'arousal' is constant"),
        (lambda f: f.assign(id="same"), {}, r"id 'same' appears more than once"),
        (lambda f: f.drop(columns="arousal"), {}, r"column 'arousal' is missing"),
        (lambda f: f.assign(speech_a="loud"), {}, r"feature column 'speech_a' of modality 'speech' is not numeric"),
        (lambda f: f.assign(nonsense=1.0), {}, r"column 'nonsense' has no modality prefix"),
        (lambda f: f, {"modalities": ("speech", "motion")}, r"feature group 'motion' has no columns"),
    ],
)
def test_bad_tables_are_errors_naming_the_column(tmp_path, change, kwargs, match):
    path = _write(change(_frame()), tmp_path)
    with pytest.raises(DataLayoutError, match=match):
        load_table(path, targets=("pleasure", "arousal"), group="teacher", **kwargs)


def test_a_missing_or_corrupt_file_is_named(tmp_path):
    with pytest.raises(DataMissingError, match="nothing.csv"):
        load_table(tmp_path / "nothing.csv", targets=("pleasure",))
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(DataLayoutError, match="bad.parquet"):
        load_table(bad, targets=("pleasure",))


def test_grouped_folds_keep_groups_whole_and_are_seeded():
    groups = np.repeat([f"t{k}" for k in range(10)], 7)
    fold = grouped_folds(len(groups), groups, n_folds=5, seed=3)
    assert sorted(np.unique(fold)) == [0, 1, 2, 3, 4]
    for g in np.unique(groups):
        assert len(set(fold[groups == g])) == 1
    np.testing.assert_array_equal(fold, grouped_folds(len(groups), groups, n_folds=5, seed=3))
    assert not np.array_equal(fold, grouped_folds(len(groups), groups, n_folds=5, seed=4))
    for k in range(5):
        check_split(groups, np.flatnonzero(fold != k), np.flatnonzero(fold == k))
    with pytest.raises(DataLayoutError, match="group 't0' has items in both"):
        check_split(groups, np.array([0, 10]), np.array([1]))
    with pytest.raises(DataLayoutError, match="at least 5 groups"):
        grouped_folds(4, np.array(["a", "a", "b", "b"]), n_folds=5, seed=0)
    plain = grouped_folds(10, None, n_folds=5, seed=0)
    assert np.bincount(plain).tolist() == [2] * 5


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generator_writes_the_schema_deterministically(tmp_path):
    first = synth.generate(tmp_path / "a", **TINY)
    second = synth.generate(tmp_path / "b", **TINY)
    assert _digest(first / synth.FILE) == _digest(second / synth.FILE)
    manifest = json.loads((first / synth.MANIFEST).read_text())
    table = load_table(first / synth.FILE, targets=synth.TARGETS, group="teacher")
    assert len(table) == TINY["n_teachers"] * TINY["classes_per_teacher"]
    assert table.modalities == tuple(sorted(synth.MODALITIES))
    assert {m: list(c) for m, c in table.columns.items()} == manifest["modalities"]
    stacked = np.stack([np.isnan(table.features[m]).all(axis=1) for m in table.modalities], axis=1)
    assert not stacked.all(axis=1).any()  # never every modality missing
    assert stacked.any()  # some are
    other = synth.generate(tmp_path / "c", **{**TINY, "seed": 1})
    assert _digest(other / synth.FILE) != _digest(first / synth.FILE)


def test_generator_is_reused_when_the_parameters_match_and_checks_them(tmp_path):
    root = synth.generate(tmp_path / "d", **TINY)
    stamp = (root / synth.FILE).stat().st_mtime_ns
    synth.generate(root, **TINY)
    assert (root / synth.FILE).stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="n_teachers of generate must be an int >= 2; got 1"):
        synth.generate(tmp_path / "e", n_teachers=1)
    with pytest.raises(ValueError, match=r"rating_noise of generate must be in \[0, 1\]"):
        synth.generate(tmp_path / "e", rating_noise=2.0)


def test_default_targets_follow_the_declared_correlation_and_teachers_matter(tmp_path):
    root = synth.generate(tmp_path / "f")
    table = load_table(root / synth.FILE, targets=synth.TARGETS, group="teacher")
    observed = np.corrcoef(table.targets.T)
    assert np.abs(observed - synth.latent_correlation()).max() < 0.12  # rating noise shrinks them a little
    means = pd.DataFrame(table.targets).groupby(table.groups).mean().to_numpy()
    assert means.var(axis=0).min() > 0.1  # teacher effects: the group means differ
