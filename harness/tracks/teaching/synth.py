"""Synthetic stand-in for a teaching-style table: classes of teachers, four modalities, four style dimensions.

It is the embedded default data of the teaching track, written in the track's schema
(:mod:`harness.tracks.teaching.schema`) as one Parquet file, ``classes.parquet``:

- ``id`` (``c0001`` ...), ``teacher`` (the group, ``t01`` ...);
- targets ``pleasure`` and ``arousal`` (the pleasure-arousal plane of the dimensional theory) and two further
  style dimensions correlated with them, ``dominance`` and ``engagement``: each item's style is drawn from a
  correlated Gaussian around its teacher's own style (teachers differ, so a split that mixed a teacher's
  classes into train and test would flatter every method), plus a little rating noise;
- four modalities with different signal-to-noise and nonlinear, partly shared mappings from the style:
  ``speech`` (mostly arousal and dominance, clean), ``face`` (mostly pleasure and engagement), ``motion``
  (arousal and engagement, noisy), ``text`` (every dimension weakly, with a pleasure x arousal interaction).
  Each modality's features are a random two-layer map of its latent inputs (a quarter of the hidden units
  a saturating tanh, the rest products of two projections of the style, which a linear read-out cannot use;
  then a random mixing), a per-teacher offset (the recording set-up of the teacher: a nuisance a model must not
  learn as style), noise, and a quarter of pure-noise columns. Each modality is missing (all its columns NaN)
  for a share of the items, never all four at once.

Difficulty (default preset, 5 folds grouped by teacher, seed 0; mean CCC over the four targets): ridge on the
mean-imputed, standardised features 0.61, histogram gradient boosting per target 0.62, a scikit-learn MLP
(128, 64) 0.66: nonlinear models gain, none is near 1.

Determinism: one generator seeded by ``seed`` draws everything in a fixed order; the same parameters give the
same file. The folder's ``schema.json`` says which columns are the id, the group and the targets (read by
:func:`~harness.tracks.teaching.schema.load_described`). Parameters, the column groups and the latent
correlations are written to ``parbench_synth.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from harness.data.synth._staging import manifest_matches, staged
from harness.tracks.teaching.schema import SCHEMA_FILE

__all__ = ["FILE", "MANIFEST", "MODALITIES", "PRESETS", "TARGETS", "VERSION", "generate", "latent_correlation"]

#: Version of the generator's output; bump it whenever a byte of the output can change.
VERSION = "2"
#: The table's file name.
FILE = "classes.parquet"
#: File at the dataset root recording the parameters and the column groups.
MANIFEST = "parbench_synth.json"
#: The style dimensions (targets), in column order.
TARGETS = ("pleasure", "arousal", "dominance", "engagement")
#: Modality -> (informative columns, weight of each target in its latent input, noise sd, missing share).
MODALITIES = MappingProxyType({
    "speech": (18, (0.2, 1.0, 0.7, 0.1), 0.5, 0.06),
    "face": (24, (1.0, 0.15, 0.1, 0.6), 0.8, 0.15),
    "motion": (12, (0.1, 0.8, 0.2, 0.7), 1.4, 0.10),
    "text": (30, (0.5, 0.4, 0.4, 0.4), 1.1, 0.05),
})
#: Named parameter sets: ``default`` (the embedded default data) and ``tiny`` (tests and CI smoke runs).
PRESETS = MappingProxyType({
    "default": {"n_teachers": 60, "classes_per_teacher": 30},
    "tiny": {"n_teachers": 8, "classes_per_teacher": 6},
})
#: Scale of the style in the modalities' hidden units (the tanh units saturate at a few times it).
_GAIN = 1.5
_CORRELATION = (
    (1.0, 0.2, 0.1, 0.5),
    (0.2, 1.0, 0.3, 0.4),
    (0.1, 0.3, 1.0, 0.2),
    (0.5, 0.4, 0.2, 1.0),
)


def latent_correlation() -> np.ndarray:
    """Correlation (4, 4) of the style dimensions before teacher effects and rating noise, in :data:`TARGETS` order."""
    return np.array(_CORRELATION, dtype=np.float64)


def _check(params: dict) -> None:
    for name in ("n_teachers", "classes_per_teacher"):
        value = params[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            msg = f"{name} of generate must be an int >= 2; got {value!r}."
            raise ValueError(msg)
    for name in ("teacher_share", "rating_noise", "missing_scale"):
        value = params[name]
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            msg = f"{name} of generate must be in [0, 1]; got {value!r}."
            raise ValueError(msg)


def _table(params: dict) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    rng = np.random.default_rng(params["seed"])
    n_teachers, per = params["n_teachers"], params["classes_per_teacher"]
    n = n_teachers * per
    chol = np.linalg.cholesky(latent_correlation())
    share = params["teacher_share"]
    teacher_style = rng.standard_normal((n_teachers, 4)) @ chol.T * np.sqrt(share)
    teacher = np.repeat(np.arange(n_teachers), per)
    style = teacher_style[teacher] + rng.standard_normal((n, 4)) @ chol.T * np.sqrt(1 - share)
    targets = style + params["rating_noise"] * rng.standard_normal((n, 4))
    frame = {"id": [f"c{i + 1:04d}" for i in range(n)], "teacher": [f"t{t + 1:02d}" for t in teacher]}
    for j, name in enumerate(TARGETS):
        frame[name] = np.round(targets[:, j], 6)
    groups: dict[str, list[str]] = {}
    present = np.ones((n, len(MODALITIES)), dtype=bool)
    blocks = {}
    for m, (modality, (n_informative, weights, noise, missing)) in enumerate(MODALITIES.items()):
        hidden = 2 * n_informative
        mix_in = rng.standard_normal((4, hidden)) * np.asarray(weights)[:, None] * _GAIN
        bias = rng.uniform(-1.0, 1.0, hidden)
        latent = style @ mix_in + bias
        if modality == "text":  # a pleasure x arousal interaction only a nonlinear model can use
            latent[:, : hidden // 4] += 1.2 * (style[:, :1] * style[:, 1:2])
        mix_out = rng.standard_normal((hidden, n_informative)) / np.sqrt(hidden)
        # a quarter of the units saturate (tanh); the rest are products of two projections of the style, which
        # carry it with a sign a linear read-out cannot see (zero mean, symmetric) but a nonlinear one can
        n_tanh = hidden // 4
        rest = hidden - n_tanh
        pairs = latent[:, n_tanh:] - bias[n_tanh:]
        products = pairs[:, : rest // 2] * pairs[:, rest // 2 : 2 * (rest // 2)] / _GAIN
        signal = np.concatenate([np.tanh(latent[:, :n_tanh]), products], axis=1) @ mix_out[: n_tanh + rest // 2]
        signal /= signal.std(axis=0, keepdims=True)
        n_noise = max(1, n_informative // 3)
        setup = rng.standard_normal((n_teachers, n_informative + n_noise)) * 0.6
        values = np.concatenate([signal, np.zeros((n, n_noise))], axis=1) + setup[teacher]
        values += noise * rng.standard_normal(values.shape)
        values = values[:, rng.permutation(values.shape[1])]
        present[:, m] = rng.random(n) >= missing * params["missing_scale"] * 1.0
        blocks[modality] = values
    none = ~present.any(axis=1)
    present[none, rng.integers(0, len(MODALITIES), int(none.sum()))] = True  # never every modality missing
    for m, (modality, values) in enumerate(blocks.items()):
        values[~present[:, m]] = np.nan
        names = [f"{modality}_{k + 1:02d}" for k in range(values.shape[1])]
        groups[modality] = names
        for k, name in enumerate(names):
            frame[name] = np.round(values[:, k], 5)
    return pd.DataFrame(frame), groups


def generate(
    root: str | Path, *, seed: int = 0, n_teachers: int = 60, classes_per_teacher: int = 30,
    teacher_share: float = 0.3, rating_noise: float = 0.35, missing_scale: float = 1.0, overwrite: bool = False,
) -> Path:
    """Write the synthetic teaching-style table into ``root`` (``classes.parquet`` and the manifest).

    Args:
        root: The dataset folder.
        seed: Seed of everything drawn.
        n_teachers: Teachers (groups).
        classes_per_teacher: Classes (items) per teacher.
        teacher_share: Share of the style variance that is the teacher's own.
        rating_noise: Standard deviation of the rating noise added to the style (the targets' noise floor).
        missing_scale: Multiplier of every modality's missing share (0: nothing missing).
        overwrite: Replace an existing dataset with other parameters.

    Returns:
        ``root``.

    Raises:
        ValueError: A parameter is out of range; names it.
    """
    root = Path(root)
    params = {"generator": __name__, "version": VERSION, "seed": int(seed), "n_teachers": n_teachers,
              "classes_per_teacher": classes_per_teacher, "teacher_share": teacher_share,
              "rating_noise": rating_noise, "missing_scale": missing_scale}
    _check(params)
    if not overwrite and manifest_matches(root, MANIFEST, params):
        return root
    frame, groups = _table(params)
    with staged(root, overwrite=overwrite, same=lambda other: manifest_matches(other, MANIFEST, params)) as staging:
        frame.to_parquet(staging / FILE, index=False)
        manifest = {
            "parameters": params, "file": FILE, "id": "id", "group": "teacher", "targets": list(TARGETS),
            "modalities": groups, "latent_correlation": latent_correlation().tolist(),
            "missing_items": {m: float(frame[c].isna().all(axis=1).mean()) for m, c in groups.items()},
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        schema = {"file": FILE, "id": "id", "group": "teacher", "targets": list(TARGETS)}
        (staging / SCHEMA_FILE).write_text(json.dumps(schema, indent=1) + "\n")
    return root
