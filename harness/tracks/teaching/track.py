"""The ``teaching`` track: multimodal items mapped to continuous style dimensions, scored by CCC.

Protocol (every method runs it identically; the budget fixes every number):

1. The dataset card's loader reads one table of the schema (:mod:`harness.tracks.teaching.schema`): feature
   groups (modalities) with missing values allowed, continuous targets, an optional group column.
2. Each seed draws :data:`N_FOLDS` folds grouped by the group column (:func:`~harness.tracks.teaching.schema.
   grouped_folds`: whole teachers, speakers or artists per fold, the same folds for every method of that seed);
   each fold is a subset (``fold1`` ... ``fold5``): its job trains on the other folds and predicts this one.
   The leaderboard's ``mean`` row is the mean over folds, i.e. the cross-validated score.
3. Every feature is standardised with the mean and standard deviation of the training part (missing values left
   out; a constant or all-missing column becomes 0); nothing is estimated on the test fold. Missing values stay
   NaN: each method declares how it handles them (:mod:`harness.tracks.teaching.method`).
4. A method predicts every target for the test items, and once more with each modality removed (all NaN), so
   each modality's contribution is measured for every method the same way.

Data contract:

- ``load_train`` returns :class:`TeachingTrain`: standardised features per modality (NaN where missing), the
  targets (n, t), their names, and the groups (a method may use them for inner, grouped validation).
- ``load_test_inputs`` returns :class:`TeachingInputs`: the standardised features of the test fold only.
- ``load_truth`` returns :class:`TeachingTruth` (runner's process only).
- Predictions: ``targets`` float (n_test, n_targets) and ``drop_<modality>`` float (n_test, n_targets) for each
  modality, all finite.

Metrics (:mod:`harness.metrics.agreement`): ``ccc_mean`` (main): Lin's CCC (population moments) of each target,
averaged over the targets; ``ccc_min``: the worst target's CCC; ``pearson_mean``, ``rmse_mean``, ``mae_mean``: the
same averages of Pearson's r (0 for a constant prediction, which has no linear association), RMSE and MAE;
``ccc_drop_mean``: ``ccc_mean`` with one modality removed at test time, averaged over the modalities (robustness
to a lost modality). The per-target values (``ccc.<target>``, ``pearson.<target>``, ...) and each modality's
contribution (``contribution.<modality>`` = ``ccc_mean`` minus its value without that modality) are stored as
diagnostics, tabulated and drawn by :meth:`TeachingTrack.leaderboard_figures`, since the targets and modalities
are the dataset's own. Every metric but the drop-one one is resampled over test items for the intervals.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.data.errors import DataLayoutError
from harness.errors import InvalidPredictionError
from harness.options import option
from harness.registry import load_target
from harness.tracks.teaching.schema import MultimodalTable, check_split, grouped_folds

__all__ = [
    "FOLDS",
    "N_FOLDS",
    "TeachingBudget",
    "TeachingInputs",
    "TeachingTrack",
    "TeachingTrain",
    "TeachingTruth",
    "list_folds",
    "standardise",
]

#: Folds of the cross-validation; each is a subset.
N_FOLDS = 5
#: The subsets: ``fold1`` ... ``fold5``.
FOLDS = tuple(f"fold{k + 1}" for k in range(N_FOLDS))


def list_folds(root: Path | str) -> list[str]:
    """The folds when ``root`` holds a described table (``schema.json``), else ``[]`` (no dataset there)."""
    from harness.tracks.teaching.schema import SCHEMA_FILE

    return list(FOLDS) if (Path(root) / SCHEMA_FILE).is_file() else []


@dataclass(frozen=True)
class TeachingBudget(Budget):
    """Budget of the teaching track: the training recipe every neural method (and the scikit-learn MLPs) shares."""

    epochs: int = option(50, "Passes over the training part of every neural method (no early stopping).", ge=1)
    batch_size: int = option(128, "Mini-batch size of every neural method.", ge=1)
    learning_rate: float = option(1e-3, "Adam learning rate of every neural method.", gt=0)
    weight_decay: float = option(1e-4, "L2 penalty of every neural method (scikit-learn MLP: alpha).", ge=0)
    hidden: int = option(128, "Width of the hidden layers of every neural method.", ge=1)


@dataclass
class TeachingTrain:
    """The training part of one (fold, seed).

    Attributes:
        features: modality -> float64 (n, d_m), standardised on this training part; NaN where missing.
        targets: float64 (n, n_targets).
        target_names: Name of each target column.
        groups: The group of each item (n,) (teacher, speaker, artist), or None.
    """

    features: Mapping[str, np.ndarray]
    targets: np.ndarray
    target_names: tuple[str, ...]
    groups: np.ndarray | None

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities, sorted."""
        return tuple(sorted(self.features))


@dataclass
class TeachingInputs:
    """Test inputs of one (fold, seed): ``features`` modality -> float64 (n, d_m), standardised, NaN where missing."""

    features: Mapping[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.features.values())))

    @property
    def modalities(self) -> tuple[str, ...]:
        """The modalities, sorted."""
        return tuple(sorted(self.features))

    def take(self, order: np.ndarray) -> TeachingInputs:
        """The items in ``order`` (int array)."""
        return TeachingInputs({m: f[order] for m, f in self.features.items()})

    def without(self, modality: str) -> TeachingInputs:
        """The same items with ``modality`` missing for every one of them (all NaN)."""
        if modality not in self.features:
            msg = f"no modality {modality!r}; the inputs have {', '.join(self.modalities)}."
            raise KeyError(msg)
        return TeachingInputs({m: (np.full_like(f, np.nan) if m == modality else f) for m, f in self.features.items()})


@dataclass
class TeachingTruth:
    """Test truth of one (fold, seed), in the runner's process only.

    Attributes:
        targets: float64 (n, t).
        target_names: Name of each target.
        modalities: The modalities, sorted (the ``drop_<modality>`` predictions expected).
        groups: The group of each test item (n,), or None; kept to check that the job's order does not tell them.
    """

    targets: np.ndarray
    target_names: tuple[str, ...]
    modalities: tuple[str, ...]
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, order: np.ndarray) -> TeachingTruth:
        """The items in ``order`` (int array)."""
        groups = None if self.groups is None else self.groups[order]
        return TeachingTruth(self.targets[order], self.target_names, self.modalities, groups)


def standardise(train: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both arrays with the training part's column means and standard deviations (NaN left out).

    A column with no value or a single distinct value in the training part gets mean 0 and scale 1 where it has
    no statistic, so it carries no information learnt from the test part. NaN stays NaN.

    Returns:
        The standardised training and other arrays (float64).
    """
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: its statistic is NaN, handled below
        mean = np.nanmean(train, axis=0)
        std = np.nanstd(train, axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    return (train - mean) / std, (other - mean) / std


@functools.lru_cache(maxsize=4)
def _cached_table(loader: str, root: str, stamp: tuple) -> MultimodalTable:
    table = load_target(loader)(Path(root))
    shares = ", ".join(f"{m} {100 * v['items']:.1f} % of items ({100 * v['cells']:.1f} % of cells)"
                       for m, v in sorted(table.missing.items()))
    logging.getLogger("parbench.teaching").info("%s: %d items; missing: %s", table.source, len(table), shares)
    return table


def _stamp(root: Path) -> tuple:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files[:64])


class TeachingTrack(Track):
    """Multimodal regression of continuous style dimensions: mean CCC over targets, grouped 5-fold CV."""

    name = "teaching"
    description = "Multimodal multi-task regression of continuous (pleasure-arousal) style dimensions, scored by CCC."
    metrics = {
        "ccc_mean": True,
        "ccc_min": True,
        "pearson_mean": True,
        "rmse_mean": False,
        "mae_mean": False,
        "ccc_drop_mean": True,
    }
    headline_metrics = ("ccc_mean", "ccc_min", "pearson_mean", "rmse_mean", "ccc_drop_mean")
    budget_cls = TeachingBudget
    budgets = {
        "smoke": {"time_limit_s": 120.0, "memory_limit_mb": 2048, "seeds": (0,), "epochs": 20, "batch_size": 64,
                  "hidden": 32},
        "default": {"time_limit_s": 300.0, "memory_limit_mb": 3072, "seeds": (0, 1, 2)},
        "paper": {"time_limit_s": 1800.0, "memory_limit_mb": 8192, "seeds": tuple(range(5)), "epochs": 150,
                  "hidden": 256},
    }
    default_dataset = "synth_teaching"
    budget_datasets = {"smoke": "synth_teaching_small", "paper": "pmemo2019"}
    budget_subsets = {"smoke": ("fold1",)}
    seeded_split = True
    has_figures = True
    #: Tolerance of new rows of results/reference/teaching.csv (smoke: one fold of 80 items, 5 epochs on CPU).
    tolerance = 0.02

    def subsets(self, root: Path, card: Any) -> list[str]:
        """The folds (``fold1`` ... ``fold5``)."""
        return list(FOLDS)

    def _table(self, root: Path, card: Any) -> MultimodalTable:
        return _cached_table(card.loader, str(root), _stamp(Path(root)))

    def _split(self, root: Path, card: Any, subset: str, seed: int) -> tuple[MultimodalTable, np.ndarray, np.ndarray]:
        if subset not in FOLDS:
            msg = f"subset {subset!r} is not a fold of the teaching track; the folds are {', '.join(FOLDS)}."
            raise DataLayoutError(msg)
        table = self._table(root, card)
        fold = grouped_folds(len(table), table.groups, n_folds=N_FOLDS, seed=seed)
        k = FOLDS.index(subset)
        train, test = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        check_split(table.groups, train, test)
        return table, train, test

    def _features(self, table: MultimodalTable, train: np.ndarray, rows: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for modality, values in table.features.items():
            out[modality] = standardise(values[train], values[rows])[1]
        return out

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> TeachingTrain:
        """The other folds of (subset, seed): standardised features, targets, their names, groups."""
        table, train, _ = self._split(root, card, subset, seed)
        groups = None if table.groups is None else table.groups[train]
        return TeachingTrain(self._features(table, train, train), table.targets[train], table.target_names, groups)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> TeachingInputs:
        """The fold's features, standardised with the training part's statistics; no targets, no groups."""
        table, train, test = self._split(root, card, subset, seed)
        return TeachingInputs(self._features(table, train, test))

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> TeachingTruth:
        """The fold's targets."""
        table, _, test = self._split(root, card, subset, seed)
        groups = None if table.groups is None else table.groups[test]
        return TeachingTruth(table.targets[test], table.target_names, table.modalities, groups)

    def validate(self, predictions: Predictions, truth: TeachingTruth) -> None:
        """``targets`` and every ``drop_<modality>`` must be finite floats of shape (n_test, n_targets)."""
        shape = truth.targets.shape
        predictions.check("targets", shape=shape, kind="f")
        for modality in truth.modalities:
            predictions.check(f"drop_{modality}", shape=shape, kind="f")
        extra = sorted(set(predictions.arrays) - {"targets", *(f"drop_{m}" for m in truth.modalities)})
        if extra:
            msg = f"predictions hold arrays the track does not know: {extra}; expected targets and drop_<modality>."
            raise InvalidPredictionError(msg)

    @staticmethod
    def _agreement(pred: np.ndarray, truth: TeachingTruth) -> dict[str, np.ndarray]:
        from harness.metrics.resample import weighted_agreement

        return {k: v[0] for k, v in weighted_agreement(pred, truth.targets, np.ones((1, len(pred)))).items()}

    def _per_target(self, predictions: Predictions, truth: TeachingTruth) -> dict[str, np.ndarray]:
        """Per-target metrics through :mod:`harness.metrics.agreement` (the reference implementation)."""
        from harness.metrics.agreement import ccc, mae, pearson, rmse

        pred = predictions["targets"]
        out: dict[str, list[float]] = {"ccc": [], "pearson": [], "rmse": [], "mae": []}
        for j in range(truth.targets.shape[1]):
            p, t = pred[:, j], truth.targets[:, j]
            out["ccc"].append(ccc(p, t) if np.ptp(p) > 0 else 0.0)  # a constant prediction: no covariance
            out["pearson"].append(pearson(p, t) if np.ptp(p) > 0 and np.ptp(t) > 0 else 0.0)
            out["rmse"].append(rmse(p, t))
            out["mae"].append(mae(p, t))
        return {k: np.asarray(v) for k, v in out.items()}

    def evaluate(self, predictions: Predictions, truth: TeachingTruth) -> dict[str, float]:
        """Means over targets of CCC, r, RMSE, MAE; the worst target's CCC; mean CCC with one modality dropped."""
        per = self._per_target(predictions, truth)
        drops = [float(self._agreement(predictions[f"drop_{m}"], truth)["ccc"].mean()) for m in truth.modalities]
        return {
            "ccc_mean": float(per["ccc"].mean()),
            "ccc_min": float(per["ccc"].min()),
            "pearson_mean": float(per["pearson"].mean()),
            "rmse_mean": float(per["rmse"].mean()),
            "mae_mean": float(per["mae"].mean()),
            "ccc_drop_mean": float(np.mean(drops)),
        }

    def item_results(self, predictions: Predictions, truth: TeachingTruth) -> dict[str, np.ndarray]:
        """Per test item: its predicted and true targets, (n, t) each."""
        return {"pred": np.asarray(predictions["targets"], dtype=np.float64), "true": truth.targets}

    def resample_metrics(self, items: Mapping[str, np.ndarray], weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric but ``ccc_drop_mean`` on each resample of the test items (weighted moments)."""
        from harness.metrics.resample import weighted_agreement

        out = weighted_agreement(items["pred"], items["true"], weights)
        return {
            "ccc_mean": out["ccc"].mean(axis=1),
            "ccc_min": out["ccc"].min(axis=1),
            "pearson_mean": out["pearson"].mean(axis=1),
            "rmse_mean": out["rmse"].mean(axis=1),
            "mae_mean": out["mae"].mean(axis=1),
        }

    def diagnostics(self, predictions: Predictions, truth: TeachingTruth) -> dict[str, np.ndarray]:
        """``<metric>.<target>`` for CCC, r, RMSE, MAE, and ``contribution.<modality>`` (one value each)."""
        per = self._per_target(predictions, truth)
        out = {f"{metric}.{name}": np.array([values[j]]) for metric, values in per.items()
               for j, name in enumerate(truth.target_names)}
        full = float(per["ccc"].mean())
        for modality in truth.modalities:
            dropped = float(self._agreement(predictions[f"drop_{modality}"], truth)["ccc"].mean())
            out[f"contribution.{modality}"] = np.array([full - dropped])
        return out

    def save_figure(self, predictions: Predictions, truth: TeachingTruth, path: Path, *, title: str) -> None:
        """Predicted against true values, one panel per target, with the CCC and the identity line."""
        from harness.tracks.teaching.figures import scatter_figure

        scatter_figure(predictions["targets"], truth.targets, truth.target_names, path, title=title)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Per-target and per-modality tables (CSV + Markdown) and their figures."""
        from harness.tracks.teaching.figures import detail_tables

        return detail_tables(rows, out_dir, diagnostics or {})
