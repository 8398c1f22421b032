"""PMEmo2019 into the teaching schema, and the described-table loader of your own tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.cards import load_card, resolve_dataset
from harness.data.errors import DataLayoutError, DataMissingError
from harness.errors import DatasetNotFoundError
from harness.tracks.teaching import FOLDS, TeachingTrack, load_described
from harness.tracks.teaching.pmemo import feature_group, list_subsets, load

#: ComParE 2016 functionals as they are named in PMEmo2019's static_features.csv, one or two per descriptor.
COLUMNS = {
    "F0final_sma_amean": "voice", "voicingFinalUnclipped_sma_stddev": "voice", "jitterLocal_sma_de_range": "voice",
    "shimmerLocal_sma_amean": "voice", "logHNR_sma_quartile1": "voice",
    "audspec_lengthL1norm_sma_range": "energy", "pcm_RMSenergy_sma_amean": "energy",
    "pcm_zcr_sma_de_stddev": "energy", "audspecRasta_lengthL1norm_sma_maxPos": "energy",
    "audSpec_Rfilt_sma[3]_amean": "spectral", "pcm_fftMag_fband250-650_sma_stddev": "spectral",
    "pcm_fftMag_spectralFlux_sma_de_amean": "spectral", "pcm_fftMag_psySharpness_sma_range": "spectral",
    "pcm_fftMag_mfcc_sma[1]_amean": "cepstral", "pcm_fftMag_mfcc_sma_de[14]_stddev": "cepstral",
}


def _release(root, n_songs=40, n_annotated=36, with_metadata=True):
    rng = np.random.default_rng(0)
    release = root / "PMEmo2019"
    (release / "features").mkdir(parents=True)
    (release / "annotations").mkdir()
    ids = np.arange(1, 3 * n_songs, 3)[:n_songs]  # sparse ids, as in the release
    features = pd.DataFrame({"musicId": ids, **{c: rng.normal(size=n_songs) for c in COLUMNS}})
    features.to_csv(release / "features" / "static_features.csv", index=False)
    annotated = rng.permutation(ids)[:n_annotated]
    pd.DataFrame({"musicId": annotated, "Arousal(mean)": rng.uniform(0, 1, n_annotated),
                  "Valence(mean)": rng.uniform(0, 1, n_annotated)}).to_csv(
        release / "annotations" / "static_annotations.csv", index=False)
    if with_metadata:
        pd.DataFrame({"musicId": ids, "fileName": [f"{i}.mp3" for i in ids], "title": "x",
                      "artist": [f"artist {i % 11}" for i in range(n_songs)]}).to_csv(release / "metadata.csv",
                                                                                      index=False)
    return release


@pytest.mark.parametrize(("column", "group"), list(COLUMNS.items()))
def test_compare_descriptors_fall_into_their_group(column, group):
    assert feature_group(column) == group


def test_release_loads_annotated_songs_grouped_by_artist(tmp_path):
    _release(tmp_path)
    table = load(tmp_path)
    assert len(table) == 36 and table.target_names == ("valence", "arousal")
    assert table.modalities == ("cepstral", "energy", "spectral", "voice")
    assert {len(c) for c in table.columns.values()} == {2, 4, 5}
    assert np.all(np.diff(table.ids) > 0)  # sorted by musicId
    assert table.groups is not None and set(table.groups) <= {f"artist {k}" for k in range(11)}
    assert list_subsets(tmp_path) == list(FOLDS) and list_subsets(tmp_path / "PMEmo2019") == list(FOLDS)
    raw = pd.read_csv(tmp_path / "PMEmo2019" / "annotations" / "static_annotations.csv").set_index("musicId")
    assert np.allclose(table.targets[:, 0], raw.loc[table.ids, "Valence(mean)"].to_numpy())


def test_the_track_runs_its_folds_on_the_release(tmp_path):
    _release(tmp_path)
    card = load_card("pmemo2019")
    root = resolve_dataset(card, tmp_path)
    track = TeachingTrack()
    train = track.load_train(root, card, "fold3", track.budget("smoke"), seed=0)
    truth = track.load_truth(root, card, "fold3", track.budget("smoke"), seed=0)
    assert len(train) + len(truth) == 36 and train.targets.shape[1] == 2


def test_without_metadata_there_is_no_group(tmp_path):
    _release(tmp_path, with_metadata=False)
    assert load(tmp_path).groups is None


def test_missing_release_and_columns_are_named(tmp_path):
    with pytest.raises(DataMissingError, match=r"PMEmo2019/features/static_features.csv does not exist"):
        load(tmp_path)
    assert list_subsets(tmp_path) == []
    with pytest.raises(DatasetNotFoundError, match="pmemo.hellohui.cn"):
        resolve_dataset(load_card("pmemo2019"), tmp_path)
    release = _release(tmp_path)
    path = release / "annotations" / "static_annotations.csv"
    pd.read_csv(path).drop(columns="Valence(mean)").to_csv(path, index=False)
    with pytest.raises(DataLayoutError, match=r"'Valence\(mean\)' is missing"):
        load(tmp_path)


def test_an_annotation_with_a_gap_is_an_error_naming_the_song(tmp_path):
    release = _release(tmp_path)
    path = release / "annotations" / "static_annotations.csv"
    frame = pd.read_csv(path)
    frame.loc[4, "Arousal(mean)"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(DataLayoutError, match=rf"target 'arousal' has a missing .* at id {frame.loc[4, 'musicId']}"):
        load(tmp_path)


def _described(tmp_path, spec, frame=None):
    frame = frame if frame is not None else pd.DataFrame({
        "id": range(10), "speaker": [k % 5 for k in range(10)], "valence": np.linspace(0, 1, 10),
        "audio_a": np.arange(10.0), "eda_b": np.ones(10)})
    frame.to_csv(tmp_path / "items.csv", index=False)
    (tmp_path / "schema.json").write_text(json.dumps(spec))
    return tmp_path


def test_a_described_table_loads_with_its_schema(tmp_path):
    table = load_described(_described(tmp_path, {"file": "items.csv", "group": "speaker", "targets": "valence"}))
    assert table.modalities == ("audio", "eda") and table.target_names == ("valence",)
    assert sorted(set(table.groups)) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        pytest.param(None, DataMissingError, "has no schema.json", id="no-schema"),
        pytest.param({"file": "items.csv"}, DataLayoutError, "required key 'targets'", id="no-targets"),
        pytest.param({"file": "items.csv", "targets": ["valence"], "label": 1}, DataLayoutError,
                     "key 'label' is not allowed", id="unknown-key"),
        pytest.param({"file": "other.csv", "targets": ["valence"]}, DataMissingError, "other.csv", id="no-file"),
        pytest.param({"file": "items.csv", "targets": ["valence"], "group": "speaker",
                      "modalities": ["audio", "face"]},
                     DataLayoutError, "feature group 'face' has no columns", id="empty-group"),
    ],
)
def test_a_broken_description_is_an_error_naming_it(tmp_path, spec, error, match):
    _described(tmp_path, spec or {})
    if spec is None:
        (tmp_path / "schema.json").unlink()
    with pytest.raises(error, match=match):
        load_described(tmp_path)
