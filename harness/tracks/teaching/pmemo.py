"""Loader of PMEmo2019 (the Popular Music with Emotional annotations dataset) into the teaching track's schema.

PMEmo (Zhang, Zhang, Li, Yang, Sun, "The PMEmo Dataset for Music Emotion Recognition", ICMR 2018;
http://pmemo.hellohui.cn/, https://github.com/HuiZhangDB/PMEmo) holds the choruses of 794 pop songs with static
and dynamic valence/arousal ratings (at least 10 listeners each, in [0, 1]), the listeners' electrodermal activity,
lyrics, comments, and acoustic features extracted by openSMILE with the ComParE 2016 configuration. The loader
reads the release folder ``PMEmo2019/``:

- ``features/static_features.csv``: one row per song, ``musicId`` then the 6,373 static ComParE functionals
  (names like ``F0final_sma_amean``, ``pcm_fftMag_mfcc_sma[3]_stddev``, ``audspec_lengthL1norm_sma_de_range``);
- ``annotations/static_annotations.csv``: ``musicId``, ``Arousal(mean)``, ``Valence(mean)``;
- ``metadata.csv`` (optional): ``musicId``, ``artist`` and further columns; the artist is the group, so that the
  songs of one artist never sit on both sides of a fold.

Songs without a static annotation are left out (the release annotates 767 of its 794 songs). The targets are
``valence`` (the pleasure axis of the pleasure-arousal plane) and ``arousal``. The ComParE functionals are grouped
into four feature groups by their low-level descriptor, the grouping of the ComParE feature set's description
(Schuller et al., Interspeech 2013; Eyben, "Real-time Speech and Music Classification by Large Audio Feature
Space Extraction", Springer 2016): ``energy`` (auditory-spectrum loudness, RMS energy, zero-crossing rate),
``spectral`` (RASTA-filtered auditory bands and FFT-magnitude band energies, roll-off, flux, centroid, entropy,
variance, skewness, kurtosis, slope, sharpness, harmonicity), ``cepstral`` (MFCC 1-14) and ``voice`` (F0,
voicing probability, jitter, shimmer, HNR); a numeric column of no group goes to ``other``. The EDA recordings,
lyrics and comments are raw signals and text, not per-song features, so they are not read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.errors import DataLayoutError, DataMissingError
from harness.tracks.teaching.schema import MultimodalTable, read_frame, table_from_frame

__all__ = ["ANNOTATIONS", "FEATURES", "GROUPS", "METADATA", "TARGETS", "feature_group", "list_subsets", "load",
           "release_root"]

#: The static features, relative to the release folder.
FEATURES = Path("features") / "static_features.csv"
#: The static annotations, relative to the release folder.
ANNOTATIONS = Path("annotations") / "static_annotations.csv"
#: Song metadata (the artist is the group), relative to the release folder; optional.
METADATA = Path("metadata.csv")
#: Target name -> annotation column.
TARGETS = {"valence": "Valence(mean)", "arousal": "Arousal(mean)"}
#: Feature group -> substrings of the low-level descriptor names (lower case) that belong to it, tried in order.
GROUPS = (
    ("cepstral", ("mfcc",)),
    ("voice", ("f0final", "voicing", "jitter", "shimmer", "loghnr")),
    ("energy", ("audspec_lengthl1norm", "audspecrasta_lengthl1norm", "rmsenergy", "zcr")),
    ("spectral", ("audspec_rfilt", "fftmag", "spectral", "psysharpness")),
)
_ID = "musicId"


def feature_group(column: str) -> str:
    """The feature group of a ComParE column name (``other`` when no descriptor matches).

    Example:
        >>> feature_group("pcm_fftMag_mfcc_sma[3]_stddev"), feature_group("F0final_sma_amean")
        ('cepstral', 'voice')
    """
    name = column.lower()
    for group, keys in GROUPS:
        if any(key in name for key in keys):
            return group
    return "other"


def release_root(root: str | Path) -> Path:
    """The release folder: ``root`` itself when it holds ``features/static_features.csv``, else ``root/PMEmo2019``.

    Raises:
        DataMissingError: Neither holds the static features; says where they belong.
    """
    root = Path(root)
    for candidate in (root, root / "PMEmo2019"):
        if (candidate / FEATURES).is_file():
            return candidate
    msg = (f"PMEmo2019 is not in {root}: {root / 'PMEmo2019' / FEATURES} does not exist. Extract the release "
           "(http://pmemo.hellohui.cn/) so that PMEmo2019/features/ and PMEmo2019/annotations/ lie in that folder.")
    raise DataMissingError(msg)


def list_subsets(root: str | Path) -> list[str]:
    """The track's folds when ``root`` holds the release, else ``[]``."""
    from harness.tracks.teaching.track import FOLDS

    try:
        release_root(root)
    except DataMissingError:
        return []
    return list(FOLDS)


def _id_column(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if _ID not in frame.columns:
        msg = f"{path}: column {_ID!r} is missing; the file has {list(frame.columns)[:8]}."
        raise DataLayoutError(msg)
    return frame


def load(root: str | Path) -> MultimodalTable:
    """Read PMEmo2019's static features and annotations into a :class:`MultimodalTable`.

    Returns:
        Items = annotated songs (sorted by ``musicId``); targets ``valence``, ``arousal``; groups = artists when
        ``metadata.csv`` is present (else none); features in the groups ``cepstral``, ``energy``, ``spectral``,
        ``voice`` (and ``other`` if a column matches none).

    Raises:
        DataMissingError: The release, its features or its annotations are missing.
        DataLayoutError: A file lacks ``musicId`` or an annotation column, or no song has both features and
            annotations; messages name the file.
    """
    release = release_root(root)
    features = _id_column(read_frame(release / FEATURES), release / FEATURES)
    annotations = _id_column(read_frame(release / ANNOTATIONS), release / ANNOTATIONS)
    absent = [c for c in TARGETS.values() if c not in annotations.columns]
    if absent:
        msg = f"{release / ANNOTATIONS}: column {absent[0]!r} is missing; it has {list(annotations.columns)}."
        raise DataLayoutError(msg)
    numeric = [c for c in features.columns if c != _ID and pd.api.types.is_numeric_dtype(features[c])]
    renamed = {c: f"{feature_group(str(c))}_{c}" for c in numeric}
    frame = annotations[[_ID, *TARGETS.values()]].rename(columns={v: k for k, v in TARGETS.items()})
    frame = frame.merge(features[[_ID, *numeric]].rename(columns=renamed), on=_ID, how="inner")
    if frame.empty:
        msg = f"{release}: no musicId appears in both {FEATURES} and {ANNOTATIONS}."
        raise DataLayoutError(msg)
    group = None
    if (release / METADATA).is_file():
        metadata = _id_column(read_frame(release / METADATA), release / METADATA)
        if "artist" in metadata.columns:
            artists = metadata.drop_duplicates(_ID).set_index(_ID)["artist"]
            frame["group"] = frame[_ID].map(artists).fillna("unknown artist").astype(str)
            group = "group"
    frame = frame.sort_values(_ID, kind="stable").reset_index(drop=True)
    frame[_ID] = frame[_ID].to_numpy(dtype=np.int64) if pd.api.types.is_integer_dtype(frame[_ID]) else frame[_ID]
    return table_from_frame(frame, targets=tuple(TARGETS), id_column=_ID, group=group,
                            where=f"PMEmo2019 at {release}")
