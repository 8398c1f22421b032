"""The ``toy`` track: a tiny binary-classification task that proves the engine in tests.

It is not a benchmark of anything. Its dataset (``toy_blobs``) is written by :func:`generate`
in a small on-disk layout, ``<root>/<subset>/{train.csv, test.csv, test_labels.csv}``, so that
the loader, the fingerprint and the resume logic run exactly as for a real track. Besides one
honest method (a nearest-centroid classifier) it has one that does nothing (``toy-noop``, which measures
the runner's own overhead). The fault-injecting methods (raise, hang, allocate past the memory limit,
return NaN or a wrong shape, look for the truth) belong to the tests, which register them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Context, Method, Predictions, Track
from harness.errors import InvalidPredictionError
from harness.options import option

__all__ = [
    "VERSION",
    "NearestCentroid",
    "NoOp",
    "ToyBudget",
    "ToyInputs",
    "ToyTrack",
    "ToyTruth",
    "generate",
    "list_subsets",
]

#: Version of :func:`generate`'s output; bump it when the files change.
VERSION = "1"
SUBSETS = ("easy", "hard")
_FILES = ("train.csv", "test.csv", "test_labels.csv")


def generate(root: Path, *, seed: int = 0, n_train: int = 60, n_test: int = 40, n_features: int = 4) -> None:
    """Write the ``toy_blobs`` dataset: two Gaussian classes per subset, as CSV files.

    Args:
        root: Folder to create; written under a temporary name, then renamed.
        seed: Seed of the generator.
        n_train: Training rows per subset.
        n_test: Test rows per subset.
        n_features: Feature columns.
    """
    rng = np.random.default_rng(seed)
    root = Path(root)
    tmp = root.with_name(root.name + ".tmp")
    for subset, separation in zip(SUBSETS, (3.0, 1.0), strict=True):
        folder = tmp / subset
        folder.mkdir(parents=True, exist_ok=True)
        header = ",".join(f"x{i}" for i in range(n_features))
        for name, n_rows in (("train", n_train), ("test", n_test)):
            labels = np.arange(n_rows) % 2
            features = rng.normal(size=(n_rows, n_features)) + separation * labels[:, None]
            if name == "train":
                table = np.column_stack([features, labels])
                np.savetxt(
                    folder / "train.csv", table, delimiter=",", header=header + ",label", comments="", fmt="%.6f"
                )
            else:
                np.savetxt(folder / "test.csv", features, delimiter=",", header=header, comments="", fmt="%.6f")
                np.savetxt(folder / "test_labels.csv", labels, header="label", comments="", fmt="%d")
    tmp.rename(root)


def list_subsets(root: Path) -> list[str]:
    """Return the subsets (folders holding the three CSV files) under ``root``."""
    return sorted(p.name for p in Path(root).iterdir() if p.is_dir() and all((p / f).is_file() for f in _FILES))


def _read(path: Path) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


@dataclass(frozen=True)
class ToyBudget(Budget):
    """Budget of the toy track."""

    n_train_max: int = option(1000, "Training rows a method may use.", ge=1)


@dataclass(frozen=True)
class ToyInputs:
    """Test rows of one subset, without labels.

    Attributes:
        features: float64 array of shape (n_test, n_features).
    """

    features: np.ndarray

    def __len__(self) -> int:
        return len(self.features)

    def take(self, order: np.ndarray) -> ToyInputs:
        """The rows in ``order`` (int array of shape (n_test,))."""
        return ToyInputs(self.features[order])


@dataclass(frozen=True)
class ToyTruth:
    """Test labels of one subset; lives in the runner's process only.

    Attributes:
        labels: int64 array of shape (n_test,), 0 or 1.
    """

    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, order: np.ndarray) -> ToyTruth:
        """The labels in ``order`` (int array of shape (n_test,))."""
        return ToyTruth(self.labels[order])


class ToyTrack(Track):
    """Binary classification of Gaussian blobs; metrics accuracy, error count and Brier score.

    Predictions: ``labels`` (integer array of shape (n_test,), 0 or 1) and ``scores`` (float
    array of shape (n_test,), the probability of class 1, in [0, 1]).
    """

    name = "toy"
    description = "Engine self-test: binary classification of Gaussian blobs (tests only)."
    metrics = {"accuracy": True, "n_errors": False, "brier": False}
    budget_cls = ToyBudget
    budgets = {
        "smoke": {"time_limit_s": 5.0, "memory_limit_mb": 600, "seeds": (0,)},
        "default": {"time_limit_s": 60.0, "memory_limit_mb": 2048, "seeds": (0, 1)},
        "paper": {"time_limit_s": 600.0, "memory_limit_mb": 8192, "seeds": (0, 1, 2), "device": "cuda"},
    }
    default_dataset = "toy_blobs"

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Return the subsets on disk."""
        return list_subsets(root)

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> dict[str, np.ndarray]:
        """Return ``{"features": float (n, d), "labels": int (n,)}``."""
        table = _read(Path(root) / subset / "train.csv")[: budget.n_train_max]
        return {"features": table[:, :-1], "labels": table[:, -1].astype(np.int64)}

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ToyInputs:
        """Return the test rows in file order; no labels (the file alternates the classes, so the runner shuffles)."""
        return ToyInputs(_read(Path(root) / subset / "test.csv"))

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ToyTruth:
        """Return the test labels."""
        return ToyTruth(_read(Path(root) / subset / "test_labels.csv")[:, 0].astype(np.int64))

    def validate(self, predictions: Predictions, truth: ToyTruth) -> None:
        """Require integer ``labels`` in {0, 1} and finite float ``scores`` in [0, 1], both (n_test,)."""
        n_test = len(truth.labels)
        labels = predictions.check("labels", shape=(n_test,), kind="iub")
        scores = predictions.check("scores", shape=(n_test,), kind="f")
        if not np.isin(labels, (0, 1)).all() or scores.min() < 0 or scores.max() > 1:
            msg = "predictions['labels'] must be 0 or 1 and predictions['scores'] lie in [0, 1]."
            raise InvalidPredictionError(msg)

    def evaluate(self, predictions: Predictions, truth: ToyTruth) -> dict[str, float]:
        """Accuracy, number of errors and Brier score."""
        correct = predictions["labels"].astype(np.int64) == truth.labels
        brier = float(np.mean((predictions["scores"] - truth.labels) ** 2))
        return {"accuracy": float(correct.mean()), "n_errors": float((~correct).sum()), "brier": brier}


    strata_item = "label"

    def item_results(self, predictions: Predictions, truth: ToyTruth) -> dict[str, np.ndarray]:
        """Per test row: 1.0 when correct, the squared error of the score, and the label."""
        correct = (predictions["labels"].astype(np.int64) == truth.labels).astype(np.float64)
        return {"correct": correct, "squared_error": (predictions["scores"] - truth.labels) ** 2,
                "label": truth.labels}

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Accuracy, error count and Brier score of every resample."""
        from harness.metrics.resample import weighted_mean

        return {
            "accuracy": weighted_mean(items["correct"], weights),
            "n_errors": np.atleast_2d(weights) @ (1.0 - items["correct"]),
            "brier": weighted_mean(items["squared_error"], weights),
        }


class _ToyMethod(Method):
    track = "toy"
    kind = "baseline"
    paper = "engine self-test"

    def fit(self, train: dict[str, np.ndarray], budget: Budget, ctx: Context) -> None:
        self.n_features = train["features"].shape[1]

    def predict(self, inputs: ToyInputs) -> Predictions:
        n_test = len(inputs)
        return Predictions.of(labels=np.zeros(n_test, dtype=np.int64), scores=np.full(n_test, 0.5))


class NearestCentroid(_ToyMethod):
    """Assign each test row to the closer class mean (with optional shrinkage to the grand mean)."""

    name = "toy-centroid"

    @dataclass(frozen=True)
    class Config:
        """Options of the nearest-centroid classifier."""

        shrinkage: float = option(0.0, "Pull class means toward the grand mean.", ge=0, le=1)

    def fit(self, train: dict[str, np.ndarray], budget: Budget, ctx: Context) -> None:
        """Store the two (shrunk) class means."""
        features, labels = train["features"], train["labels"]
        grand = features.mean(axis=0)
        means = np.stack([features[labels == c].mean(axis=0) for c in (0, 1)])
        noise = np.random.default_rng(ctx.seed).normal(scale=1e-3, size=means.shape)
        self.means = (1 - self.config.shrinkage) * means + self.config.shrinkage * grand + noise

    def predict(self, inputs: ToyInputs) -> Predictions:
        """Label of the nearest mean."""
        dist = ((inputs.features[:, None, :] - self.means[None]) ** 2).sum(-1)
        margin = np.clip(dist[:, 0] - dist[:, 1], -50, 50)
        return Predictions.of(labels=dist.argmin(axis=1), scores=1 / (1 + np.exp(-margin)))


class NoOp(_ToyMethod):
    """Does nothing and predicts class 0 (measures the runner's own overhead)."""

    name = "toy-noop"
