"""The ``reid`` track: unsupervised person re-identification under the Market-1501 protocol.

Methods learn from training images without identities (the supervised reference row alone receives them, and
is marked ``reference`` in the tables: an upper bound, not a competitor). Camera ids of the training and test
images are metadata a method receives only if its class declares ``uses_cameras = True``. The job removes what
a method may not see before the method exists (:meth:`ReidTrack.method_view`), so a method class that is no
:class:`~harness.tracks.reid.method.ReidMethod` gets neither either.

Data contract:

- ``load_train`` returns :class:`ReidTrain`: the training images resized to the budget's ``height`` x
  ``width``, their identities and cameras (hidden from a method by its base class unless declared).
- ``load_test_inputs`` returns :class:`ReidTest`: the query and gallery images and their cameras. The gallery
  comes in one fixed seeded order (the index is sorted by file name, which starts with the identity); the
  runner puts the queries in the job's own seeded order (:meth:`ReidTest.take` reorders the queries only).
- ``load_truth`` returns :class:`ReidTruth`: identities and cameras of the queries and of the gallery, in the
  same orders (runner's process only).
- Predictions: either ``distmat`` float (n_query, n_gallery), smaller = more similar; or ``query_features``
  float (n_query, d) and ``gallery_features`` float (n_gallery, d) with ``distance`` (a 0-d string array,
  ``"euclidean"`` or ``"cosine"``; Euclidean when absent), from which the track computes the distances.

Metrics (higher is better; :mod:`harness.metrics.retrieval`): ``mAP`` (main) and CMC ``rank1``, ``rank5``,
``rank10``, the standard protocol: for each query, gallery images of its identity seen by its own camera are
removed, distractors (identity 0) stay as false matches, and a query without a true match left would not
count (the track refuses such a test set). Every metric is resampled over queries for the leaderboard's
intervals; the CMC curve up to rank 50 is stored as the diagnostic ``cmc`` and drawn by
:meth:`ReidTrack.leaderboard_figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import InvalidPredictionError, ParbenchError
from harness.options import option
from harness.registry import load_target

__all__ = ["CMC_RANKS", "DISTANCES", "ReidBudget", "ReidTest", "ReidTrack", "ReidTrain", "ReidTruth",
           "distance_matrix", "visible_to"]

#: Distances a method may declare with its features.
DISTANCES = ("euclidean", "cosine")
#: Length of the stored CMC curve (ranks 1..CMC_RANKS).
CMC_RANKS = 50
#: Seed of the fixed gallery order and of the training subsample (the same for every method and seed).
_ORDER_SEED = 20_150_907


@dataclass(frozen=True)
class ReidBudget(Budget):
    """Budget of the reid track: one input size, backbone, schedule and batch for every method."""

    height: int = option(64, "Height of the resized input images, in pixels.", ge=16)
    width: int = option(32, "Width of the resized input images, in pixels.", ge=8)
    backbone: str = option("resnet18", "timm backbone of every learned method.", non_empty=True)
    feature_layer: str = option(
        "layer2", "Backbone stage whose feature map the methods pool (layer2: stride 8).", non_empty=True
    )
    epochs: int = option(12, "Training epochs of every learned method (over the training images).", ge=1)
    batch_size: int = option(32, "Batch size of training and feature extraction.", ge=2)
    learning_rate: float = option(1e-3, "Adam learning rate of every network (cosine decay).", gt=0)
    jitter: float = option(
        0.3, "Photometric jitter of the unsupervised methods' shared augmentation (gain, white balance, "
        "saturation: 1 +- it); the supervised reference trains without.", ge=0, lt=1,
    )
    embedding_dim: int = option(128, "Dimension of the embedding every learned method returns.", ge=8)
    train_max_images: int = option(0, "Training images (a fixed seeded sample); 0 = all.", ge=0)
    test_max_queries: int = option(0, "Query images (a fixed seeded sample); 0 = all. The gallery stays whole.",
                                   ge=0)


@dataclass
class ReidTrain:
    """What a method learns from.

    Attributes:
        images: uint8 array of shape (n_train, H, W, 3), RGB, resized to the budget's ``height`` x ``width``.
        pids: int64 array of shape (n_train,), the identities; ``None`` for every method but the supervised
            reference (its base class removes them).
        camids: int64 array of shape (n_train,), 0-based cameras; ``None`` unless the method declares
            ``uses_cameras``.
        n_cameras: Number of cameras of the dataset.
    """

    images: np.ndarray
    pids: np.ndarray | None
    camids: np.ndarray | None
    n_cameras: int

    def __len__(self) -> int:
        return len(self.images)

    def visible(self, *, identities: bool, cameras: bool) -> ReidTrain:
        """The same images with identities and cameras kept only where allowed."""
        return replace(self, pids=self.pids if identities else None, camids=self.camids if cameras else None)


@dataclass
class ReidTest:
    """Test inputs: query and gallery images, no identities.

    Attributes:
        query: uint8 array of shape (n_query, H, W, 3).
        gallery: uint8 array of shape (n_gallery, H, W, 3).
        query_camids: int64 array of shape (n_query,), or ``None`` when hidden from the method.
        gallery_camids: int64 array of shape (n_gallery,), or ``None`` when hidden.
    """

    query: np.ndarray
    gallery: np.ndarray
    query_camids: np.ndarray | None
    gallery_camids: np.ndarray | None

    def __len__(self) -> int:
        return len(self.query)

    def take(self, order: np.ndarray) -> ReidTest:
        """The queries in ``order`` (int array of shape (n_query,)); the gallery is unchanged."""
        cams = None if self.query_camids is None else self.query_camids[order]
        return ReidTest(self.query[order], self.gallery, cams, self.gallery_camids)

    def visible(self, *, cameras: bool) -> ReidTest:
        """The same images with the cameras kept only where allowed."""
        if cameras:
            return self
        return ReidTest(self.query, self.gallery, None, None)


@dataclass
class ReidTruth:
    """Test truth (runner's process only).

    Attributes:
        query_pids, query_camids: int64 arrays of shape (n_query,).
        gallery_pids, gallery_camids: int64 arrays of shape (n_gallery,); identity 0 marks distractors.
        query_paths, gallery_paths: Image file of each row.
        size: ``(height, width)`` of the resized images.
    """

    query_pids: np.ndarray
    query_camids: np.ndarray
    gallery_pids: np.ndarray
    gallery_camids: np.ndarray
    query_paths: list[str]
    gallery_paths: list[str]
    size: tuple[int, int]

    def __len__(self) -> int:
        return len(self.query_pids)

    def take(self, order: np.ndarray) -> ReidTruth:
        """The queries in ``order``; the gallery is unchanged."""
        return replace(self, query_pids=self.query_pids[order], query_camids=self.query_camids[order],
                       query_paths=[self.query_paths[i] for i in order])


def distance_matrix(query: np.ndarray, gallery: np.ndarray, distance: str = "euclidean") -> np.ndarray:
    """Distances (n_query, n_gallery) between two feature sets, float64.

    ``"euclidean"``: the Euclidean distance; ``"cosine"``: one minus the cosine similarity (a zero vector has
    similarity 0 to everything).

    Example:
        >>> distance_matrix(np.array([[0.0, 1.0]]), np.array([[0.0, 2.0], [1.0, 0.0]]), "cosine").tolist()
        [[0.0, 1.0]]
    """
    q = np.asarray(query, dtype=np.float64)
    g = np.asarray(gallery, dtype=np.float64)
    if distance == "cosine":
        qn = np.linalg.norm(q, axis=1, keepdims=True)
        gn = np.linalg.norm(g, axis=1, keepdims=True)
        q = np.divide(q, qn, out=np.zeros_like(q), where=qn > 0)
        g = np.divide(g, gn, out=np.zeros_like(g), where=gn > 0)
        return 1.0 - q @ g.T
    if distance != "euclidean":
        msg = f"distance must be one of {DISTANCES}; got {distance!r}."
        raise ValueError(msg)
    squared = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * (q @ g.T)
    return np.sqrt(np.maximum(squared, 0.0))


def visible_to(data: Any, method_cls: type) -> Any:
    """Training data or test inputs as ``method_cls`` may see them; anything else unchanged.

    Identities stay only if the class declares ``uses_identities``, cameras only if it declares ``uses_cameras``.
    """
    cameras = bool(getattr(method_cls, "uses_cameras", False))
    if isinstance(data, ReidTrain):
        return data.visible(identities=bool(getattr(method_cls, "uses_identities", False)), cameras=cameras)
    if isinstance(data, ReidTest):
        return data.visible(cameras=cameras)
    return data


def _sample(n_rows: int, n_keep: int) -> np.ndarray:
    """Sorted row positions of a fixed seeded sample of ``n_keep`` rows (all rows when 0 or more than there are)."""
    if not n_keep or n_keep >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(_ORDER_SEED).permutation(n_rows)[:n_keep])


class ReidTrack(Track):
    """Unsupervised person re-ID: mAP and CMC rank-1/5/10 under the Market-1501 protocol."""

    name = "reid"
    description = "Unsupervised person re-identification (Market-1501 / DukeMTMC-reID / MSMT17 layouts)."
    metrics = {"mAP": True, "rank1": True, "rank5": True, "rank10": True}
    budget_cls = ReidBudget
    budgets = {
        "smoke": {
            "time_limit_s": 120.0, "memory_limit_mb": 4096, "seeds": (0,), "epochs": 1, "batch_size": 16,
            "train_max_images": 160, "test_max_queries": 40,
        },
        "default": {
            "time_limit_s": 600.0, "memory_limit_mb": 6144, "seeds": (0, 1, 2), "epochs": 12, "batch_size": 32,
        },
        "paper": {
            "time_limit_s": 28800.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2), "device": "cuda",
            "height": 256, "width": 128, "backbone": "resnet50", "feature_layer": "layer4", "epochs": 50,
            "batch_size": 64, "embedding_dim": 2048,
        },
    }
    default_dataset = "synth_market"
    budget_datasets = {"paper": "market1501"}
    has_figures = True
    headline_metrics = ("mAP", "rank1", "rank5", "rank10")

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Subsets present on disk (``all``)."""
        return list(load_target(card.subsets_lister)(root))

    @staticmethod
    def _splits(root: Path, card: Any, subset: str, budget: ReidBudget) -> tuple[Any, Any, Any, int]:
        """(train rows, query rows, gallery rows in the fixed order, number of cameras), checked."""
        index = load_target(card.loader)(root, subset)
        train = index.split("train")
        train = train.iloc[_sample(len(train), budget.train_max_images)].reset_index(drop=True)
        query = index.split("query")
        query = query.iloc[_sample(len(query), budget.test_max_queries)].reset_index(drop=True)
        gallery = index.split("gallery")
        gallery = gallery.iloc[np.random.default_rng(_ORDER_SEED).permutation(len(gallery))].reset_index(drop=True)
        if len(train) == 0 or len(query) == 0 or len(gallery) == 0:
            msg = (f"{card.name}/{subset}: {len(train)} training, {len(query)} query and {len(gallery)} gallery "
                   "images; every split needs at least one.")
            raise ParbenchError(msg)
        cross = set(zip(gallery["pid"], gallery["camid"], strict=True))
        by_pid: dict[int, set[int]] = {}
        for pid, cam in cross:
            by_pid.setdefault(int(pid), set()).add(int(cam))
        for path, pid, cam in zip(query["path"], query["pid"], query["camid"], strict=True):
            if not by_pid.get(int(pid), set()) - {int(cam)}:
                msg = (f"query {path} (identity {pid}, camera {cam + 1}) has no gallery image of its identity from "
                       "another camera, so it cannot be scored; remove it or add such a gallery image.")
                raise ParbenchError(msg)
        return train, query, gallery, index.n_cameras

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ReidTrain:
        """Training images with their identities and cameras (the method's base class hides what it may not use)."""
        from harness.data import read_images

        train, _, _, n_cameras = self._splits(root, card, subset, budget)
        return ReidTrain(
            images=read_images(train["path"].tolist(), (budget.height, budget.width)),
            pids=train["pid"].to_numpy(dtype=np.int64),
            camids=train["camid"].to_numpy(dtype=np.int64),
            n_cameras=int(n_cameras),
        )

    def method_view(self, data: Any, method_cls: type) -> Any:
        """What ``method_cls`` may see (:func:`visible_to`)."""
        return visible_to(data, method_cls)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ReidTest:
        """Query and gallery images (gallery in the fixed seeded order) and their cameras."""
        from harness.data import read_images

        _, query, gallery, _ = self._splits(root, card, subset, budget)
        size = (budget.height, budget.width)
        return ReidTest(
            query=read_images(query["path"].tolist(), size),
            gallery=read_images(gallery["path"].tolist(), size),
            query_camids=query["camid"].to_numpy(dtype=np.int64),
            gallery_camids=gallery["camid"].to_numpy(dtype=np.int64),
        )

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> ReidTruth:
        """Identities and cameras of the queries and the gallery."""
        _, query, gallery, _ = self._splits(root, card, subset, budget)
        return ReidTruth(
            query_pids=query["pid"].to_numpy(dtype=np.int64),
            query_camids=query["camid"].to_numpy(dtype=np.int64),
            gallery_pids=gallery["pid"].to_numpy(dtype=np.int64),
            gallery_camids=gallery["camid"].to_numpy(dtype=np.int64),
            query_paths=query["path"].tolist(),
            gallery_paths=gallery["path"].tolist(),
            size=(int(budget.height), int(budget.width)),
        )

    def validate(self, predictions: Predictions, truth: ReidTruth) -> None:
        """A finite ``distmat`` of shape (n_query, n_gallery), or finite features of one width and a known distance."""
        n_query, n_gallery = len(truth.query_pids), len(truth.gallery_pids)
        if "distmat" in predictions.arrays:
            predictions.check("distmat", shape=(n_query, n_gallery), kind="f")
            return
        if "query_features" not in predictions.arrays or "gallery_features" not in predictions.arrays:
            msg = ("predictions need 'distmat' (n_query, n_gallery) or 'query_features' and 'gallery_features'; "
                   f"got {sorted(predictions.arrays)}.")
            raise InvalidPredictionError(msg)
        query = predictions.check("query_features", shape=(n_query, -1), kind="f")
        predictions.check("gallery_features", shape=(n_gallery, query.shape[1]), kind="f")
        distance = self._distance(predictions)
        if distance not in DISTANCES:
            msg = f"predictions['distance'] must be one of {DISTANCES}; got {distance!r}."
            raise InvalidPredictionError(msg)

    @staticmethod
    def _distance(predictions: Predictions) -> str:
        if "distance" not in predictions.arrays:
            return "euclidean"
        return str(np.asarray(predictions["distance"]).reshape(-1)[0]) if predictions["distance"].size else ""

    def distmat(self, predictions: Predictions) -> np.ndarray:
        """The distance matrix of the predictions (given, or computed from the features with their distance)."""
        if "distmat" in predictions.arrays:
            return np.asarray(predictions["distmat"], dtype=np.float64)
        return distance_matrix(predictions["query_features"], predictions["gallery_features"],
                               self._distance(predictions))

    def _per_query(self, predictions: Predictions, truth: ReidTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from harness.metrics.retrieval import reid_per_query

        return reid_per_query(self.distmat(predictions), truth.query_pids, truth.gallery_pids, truth.query_camids,
                              truth.gallery_camids)

    def item_results(self, predictions: Predictions, truth: ReidTruth) -> dict[str, np.ndarray]:
        """Per query: average precision, 0-based rank of the first true match, and whether it has a match."""
        ap, first_rank, valid = self._per_query(predictions, truth)
        return {"ap": np.where(valid, ap, 0.0), "first_rank": first_rank, "valid": valid}

    def evaluate(self, predictions: Predictions, truth: ReidTruth) -> dict[str, float]:
        """The mAP and CMC rank-1/5/10 over the queries."""
        items = self.item_results(predictions, truth)
        return {k: float(v[0]) for k, v in self.resample_metrics(items, np.ones((1, len(items["ap"])))).items()}

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The mAP and CMC on resamples of the queries (weights of shape (n_resamples, n_query))."""
        from harness.metrics.retrieval import reid_resampled

        return reid_resampled(items["ap"], np.asarray(items["first_rank"], dtype=np.int64),
                              np.asarray(items["valid"], dtype=bool), weights, ranks=(1, 5, 10))

    def diagnostics(self, predictions: Predictions, truth: ReidTruth) -> dict[str, np.ndarray]:
        """The CMC curve, ranks 1..50 (``cmc``)."""
        _, first_rank, valid = self._per_query(predictions, truth)
        hits = first_rank[valid]
        return {"cmc": np.array([(hits < k).mean() if len(hits) else np.nan for k in range(1, CMC_RANKS + 1)])}

    def save_figure(self, predictions: Predictions, truth: ReidTruth, path: Path, *, title: str) -> None:
        """Write a PNG panel of query rank lists, true matches framed green, same-camera matches grey."""
        from harness.tracks.reid.figures import rank_lists

        rank_lists(self.distmat(predictions), truth, path, title=title)

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """CMC curves (ranks 1..50), one line per method (mean over seeds)."""
        from harness.tracks.reid.figures import cmc_curves

        return cmc_curves(rows, out_dir, diagnostics or {})
