"""The ``fedrec`` track: federated recommendation, every user a client, under one budget of rounds and local training.

Protocol (PFedRec, Zhang et al. IJCAI 2023; :mod:`harness.tracks.fedrec.split`): interactions binarised, users
with fewer than 3 interactions dropped (counted in the job log), leave-one-out by time (last = test, second
last = validation) where the data records time, and a seeded random test and validation item per user where it
does not (Lastfm-2K: its file is sorted by artist id within each user, so "the last line" would always be the
user's highest artist id), 99 sampled negatives for validation and 99 others for test, drawn once from a fixed
seed and stored in the cache of derived files (``--cache``; :mod:`harness.cache`), never in the dataset folder,
so every method and seed sees the same and the dataset may be read-only. The leaderboard's header states the rule
of each dataset (:meth:`FedRecTrack.protocol`). Methods run ``n_rounds`` rounds; the reported test numbers are
those of the round with the best validation HR@10, which each method picks inside its job from validation data
(training side).

Training negatives are drawn each round outside the user's training items (budget
``training_negatives="train"``): the validation and test items can be drawn, since nothing of the test may reach
the job. PFedRec's code draws them outside every item the user interacted with; ``--set training_negatives=all``
does the same and hands the job each user's validation and test item, to reproduce published numbers: the test
item then shapes training, against the rule of no test leakage, so no budget preset does it. The choice matters
for methods that score with a client's fine-tuned item table (PFedRec, PLGC): a held-out item drawn as a negative
in the client's last round is pushed down its own table (``methods/plgc/README.md`` measures the effect with
``benchmarks/fedrec_heldout_negatives.py``).

Data contract:

- ``load_train`` returns :class:`FedRecTrain`: every user's training items in time order (item-id order where
  the data has no time), the validation candidates (column 0 the validation item, then its 99 negatives), counts.
- ``load_test_inputs`` returns :class:`FedRecInputs`: each user's 100 test candidates in a shuffled order (the
  job cannot tell the test item by its column), the number of items, and the users whose personalised item
  tables are measured for collapse.
- ``load_truth`` returns :class:`FedRecTruth` (runner's process only): the test items and every user's training
  and validation items (masked in the full ranking).
- Predictions (float32 unless said): ``sampled_scores`` (n_users, 100), a score per test candidate;
  ``full_scores`` (n_users, n_items), a score per item (the track masks the training and validation items);
  ``item_emb_global`` (n_items, d), the global item table (a non-federated reference: its only table);
  ``item_emb_personal`` (n_embedding_users, n_items, d), the tables those users score with (= the global table
  for a method without personalisation); ``val_hr`` (n_rounds,), validation HR@10 after each round (float64);
  ``bytes_up`` and ``bytes_down`` (n_rounds,), bytes sent by all participants in each round (float64).

Metrics (higher is better unless said): ``hr_at_10`` (main) and ``ndcg_at_10`` on the 100 sampled candidates;
``full_hr_at_10`` and ``full_ndcg_at_10`` over every item, training items masked; ``val_hr_at_10``, the best
validation HR (the round picked); collapse of the item embeddings (:mod:`harness.metrics.collapse`):
``erank_global``, ``srank_global``, ``uniformity_global`` (lower is better) of the global table and the same
``*_personal`` means over the measured users' tables; ``upload_mb_per_round`` and ``download_mb_per_round``
(lower is better), MiB moved by all participants per round. Ties count against the test item. The four ranking
metrics are resampled over users for the leaderboard's intervals (:meth:`FedRecTrack.item_results`). The
normalised singular values of the item tables are stored as diagnostic arrays ``spectrum_global`` and
``spectrum_personal`` (32 points each; :meth:`FedRecTrack.diagnostics`), drawn by
:meth:`FedRecTrack.leaderboard_figures`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import InvalidPredictionError, ParbenchError
from harness.options import option
from harness.registry import load_target
from harness.tracks.fedrec.split import PROTOCOL_VERSION, ensure_split, load_split

__all__ = [
    "N_CANDIDATES",
    "SPECTRA",
    "TRAINING_NEGATIVES",
    "FedRecBudget",
    "FedRecInputs",
    "FedRecTrack",
    "FedRecTrain",
    "FedRecTruth",
    "embedding_users",
    "spectrum",
]

#: Candidates per user in the sampled protocol (the held-out item and 99 negatives).
N_CANDIDATES = 100
#: Cut-off of the top-K metrics.
K = 10
#: Points of a stored singular-value spectrum.
N_SPECTRUM = 32
#: Names of the stored spectra (diagnostic arrays of N_SPECTRUM points).
SPECTRA = ("spectrum_global", "spectrum_personal")
#: Seed of the users whose personalised tables are measured.
EMBEDDING_USERS_SEED = 0
#: Values of the budget's ``training_negatives``.
TRAINING_NEGATIVES = ("train", "all")



@dataclass(frozen=True)
class FedRecBudget(Budget):
    """Budget of the fedrec track: rounds, participants, local training, model size and learning rates."""

    n_rounds: int = option(100, "Communication rounds (centralised references: epochs).", ge=1)
    clients_per_round: int = option(0, "Clients sampled per round; 0 = every client.", ge=0)
    local_epochs: int = option(1, "Local passes of a client over its samples per round.", ge=1)
    batch_size: int = option(256, "Samples per local minibatch.", ge=1)
    embedding_dim: int = option(32, "Size of the user and item embeddings.", ge=1)
    n_negatives: int = option(4, "Sampled negatives per training positive, drawn each round.", ge=1)
    lr: float = option(2.0, "SGD learning rate of private and dense shared parameters.", gt=0)
    item_lr: float = option(1000.0, "SGD learning rate of the item embedding rows.", gt=0)
    n_embedding_users: int = option(16, "Users whose personalised item tables are measured.", ge=1)
    training_negatives: str = option(
        "train",
        "Items a training negative is drawn outside of: 'train' (the user's training items; its validation "
        "and test items can be drawn, and nothing of the test reaches the job) or 'all' (every item the user "
        "interacted with, as PFedRec's code: the job then receives each user's validation and test items).",
        choices=TRAINING_NEGATIVES,
    )


@dataclass
class FedRecTrain:
    """The training side of one subset, as the clients hold it.

    Attributes:
        n_items: Number of items.
        train_indptr: int64 array of shape (n_users + 1,), CSR offsets into ``train_items``.
        train_items: int64 array of shape (n_train,), each user's training items in time order (item-id order
            where the data has no time).
        val_candidates: int64 array of shape (n_users, 100); column 0 is the validation item.
        summary: Counts of the split (users kept and dropped, items, interactions).
        heldout_items: int64 array of shape (n_users, 2), each user's validation and test item, which it must
            not draw as training negatives; only under ``training_negatives="all"`` (else None): the test item
            then reaches the job, as it does in PFedRec's code.
    """

    n_items: int
    train_indptr: np.ndarray
    train_items: np.ndarray
    val_candidates: np.ndarray
    summary: dict[str, Any]
    heldout_items: np.ndarray | None = None

    @property
    def n_users(self) -> int:
        """Number of users (clients)."""
        return len(self.train_indptr) - 1


@dataclass
class FedRecInputs:
    """Test inputs of one subset, without any label.

    Attributes:
        candidates: int64 array of shape (n_users, 100), each user's test candidates in a shuffled order.
        n_items: Number of items.
        embedding_users: int64 array of shape (n_embedding_users,), the users whose personalised item tables
            the method returns.
    """

    candidates: np.ndarray
    n_items: int
    embedding_users: np.ndarray


@dataclass
class FedRecTruth:
    """Test truth of one subset; lives in the runner's process only.

    Attributes:
        candidates: int64 array of shape (n_users, 100), the test candidates as the job saw them.
        test_items: int64 array of shape (n_users,).
        seen: bool array of shape (n_users, n_items), training and validation items (masked in full ranking).
        embedding_users: int64 array of shape (n_embedding_users,).
        n_rounds: Rounds of the budget (length of the per-round arrays).
    """

    candidates: np.ndarray
    test_items: np.ndarray
    seen: np.ndarray
    embedding_users: np.ndarray
    n_rounds: int

    @property
    def n_items(self) -> int:
        """Number of items."""
        return self.seen.shape[1]


def embedding_users(n_users: int, n_measured: int) -> np.ndarray:
    """The users whose personalised tables are measured: ``n_measured`` drawn once from a fixed seed, sorted.

    Example:
        >>> embedding_users(5, 10).tolist()
        [0, 1, 2, 3, 4]
    """
    rng = np.random.default_rng(EMBEDDING_USERS_SEED)
    return np.sort(rng.permutation(n_users)[: min(n_users, n_measured)]).astype(np.int64)


def spectrum(table: np.ndarray, n_points: int = N_SPECTRUM) -> np.ndarray:
    """Singular values of ``table`` (n_rows, d) divided by the largest, padded with zeros to ``n_points``.

    Example:
        >>> spectrum(np.diag([4.0, 2.0]), 3).tolist()
        [1.0, 0.5, 0.0]
    """
    values = np.linalg.svd(np.asarray(table, dtype=np.float64), compute_uv=False)
    out = np.zeros(n_points)
    if values.size and values[0] > 0:
        shown = values[:n_points] / values[0]
        out[: len(shown)] = shown
    return out


class FedRecTrack(Track):
    """Federated recommendation: sampled and full-ranking HR/NDCG@10, embedding collapse, communication."""

    name = "fedrec"
    description = "Federated recommendation, every user a client (leave-one-out, 99 sampled negatives)."
    metrics = {
        "hr_at_10": True,
        "ndcg_at_10": True,
        "full_hr_at_10": True,
        "full_ndcg_at_10": True,
        "val_hr_at_10": True,
        "erank_global": True,
        "srank_global": True,
        "uniformity_global": False,
        "erank_personal": True,
        "srank_personal": True,
        "uniformity_personal": False,
        "upload_mb_per_round": False,
        "download_mb_per_round": False,
    }
    cost_metric = "upload_mb_per_round"
    #: The first table: the ranking metrics and the traffic (then the costs).
    headline_metrics = ("hr_at_10", "ndcg_at_10", "full_hr_at_10", "full_ndcg_at_10", "upload_mb_per_round")
    budget_cls = FedRecBudget
    budgets = {
        "smoke": {
            "time_limit_s": 120.0, "memory_limit_mb": 2048, "seeds": (0,), "n_rounds": 8, "embedding_dim": 8,
            "batch_size": 64, "lr": 2.0, "item_lr": 200.0, "n_embedding_users": 8,
        },
        "default": {
            "time_limit_s": 900.0, "memory_limit_mb": 4096, "seeds": (0, 1, 2), "n_rounds": 40,
            "embedding_dim": 32,
        },
        "paper": {
            "time_limit_s": 14400.0, "memory_limit_mb": 65536, "seeds": (0, 1, 2, 3, 4), "n_rounds": 100,
            "embedding_dim": 32,
        },
    }
    #: The test inputs are rows of users in user-id order, the key the training data shares, and each user's
    #: 100 candidates are already in a shuffled order (the held-out item's column tells nothing): no order to hide.
    shuffle_test = False
    protocol_version = PROTOCOL_VERSION
    default_dataset = "synth_movielens"
    budget_datasets = {"paper": "movielens_100k"}
    budget_subsets = {"smoke": ("tiny",), "default": ("ml100k_size",)}
    #: Tolerance of new rows of results/reference/fedrec.csv (see its provenance file).
    tolerance = 0.05

    def warm_up(self) -> None:
        """Compile the client step of FedMF and PFedRec into its on-disk cache before the first job is timed."""
        from harness.tracks.fedrec.fedsim import compiled

        compiled.warm_up()

    def subsets(self, root: Path, card: Any) -> list[str]:
        """Subsets on disk; writes each one's split into the cache on first use, so that the jobs only read it.

        A cache that cannot be written is logged; each job then computes the split itself (the same arrays).
        """
        names = list(load_target(card.subsets_lister)(root))
        legacy = Path(root) / "processed"
        if legacy.is_dir() and any(legacy.glob("v*/*/summary.json")):
            logging.getLogger(__name__).warning(
                "%s: a split written by an earlier version lies in the dataset folder (%s); it is no longer read, "
                "and it counts in the folder's fingerprint: delete it.", card.name, legacy)
        for subset in names:
            try:
                ensure_split(root, card.name, subset, loader=card.loader, cache_root=self.cache_root)
            except OSError as exc:
                if isinstance(exc, ParbenchError):  # a data file missing or unreadable: not the cache's fault
                    raise
                logging.getLogger(__name__).warning(
                    "%s/%s: the split cannot be stored in the cache of derived files (%s); every job computes it. "
                    "Pass a writable --cache (or $PARBENCH_CACHE).", card.name, subset, exc)
        return names

    def protocol(self, card: Any) -> str:
        """How the validation and test items of ``card``'s dataset are chosen, for the leaderboard's header."""
        if card.timestamps:
            rule = ("leave-one-out by time: each user's last interaction is the test item, the second last the "
                    "validation item (ties of time by line of the file)")
        else:
            rule = ("the data records no time: each user's test and validation items are drawn at random from "
                    "the user's items, seeded by the user's id, independent of the order of the file's lines")
        return (f"{rule}; users with fewer than 3 interactions dropped; 99 sampled negatives for validation and 99 "
                f"others for test, drawn once (split protocol v{PROTOCOL_VERSION})")

    def _split(self, root: Path, card: Any, subset: str, *, with_test: bool) -> Any:
        return load_split(root, card.name, subset, loader=card.loader, cache_root=self.cache_root,
                          with_test=with_test)


    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> FedRecTrain:
        """Training items and validation candidates of every user; logs the users the protocol dropped.

        Under ``training_negatives="all"`` it also hands over each user's validation and test item (PFedRec's
        sampling), and says so in the job log.
        """
        pfedrec_sampling = budget.training_negatives == "all"
        split = self._split(root, card, subset, with_test=pfedrec_sampling)
        s = split.summary
        log = logging.getLogger("parbench.job")
        log.info(
            "%s/%s: %d users, %d items, %d interactions; dropped %d user(s) with fewer than %d interactions and "
            "%d without %d untouched items; %d repeated (user, item) lines; held-out items by %s (split v%s)",
            card.name, subset, s["n_users"], s["n_items"], s["n_interactions"], s["n_users_dropped_few"],
            s["min_interactions"], s["n_users_dropped_no_room"], 2 * s["n_negatives"], s["n_duplicates_dropped"],
            "time" if s["heldout_rule"] == "time" else "a seeded random draw (the data has no time)",
            s["protocol_version"],
        )
        heldout = None
        if pfedrec_sampling:
            heldout = np.stack([split.val_candidates[:, 0], split.test_items], axis=1).astype(np.int64)
            log.info("%s/%s: training_negatives=all: the job receives every user's validation and test item "
                     "(never drawn as training negatives, as in PFedRec's code)", card.name, subset)
        return FedRecTrain(split.n_items, split.train_indptr, split.train_items, split.val_candidates, s, heldout)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> FedRecInputs:
        """Shuffled test candidates of every user, without saying which is the test item."""
        split = self._split(root, card, subset, with_test=False)
        users = embedding_users(split.n_users, budget.n_embedding_users)
        return FedRecInputs(split.test_candidates, split.n_items, users)

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> FedRecTruth:
        """Test items, and every user's training and validation items for the full-ranking mask."""
        split = self._split(root, card, subset, with_test=True)
        seen = np.zeros((split.n_users, split.n_items), dtype=bool)
        owner = np.repeat(np.arange(split.n_users), np.diff(split.train_indptr))
        seen[owner, split.train_items] = True
        seen[np.arange(split.n_users), split.val_candidates[:, 0]] = True
        users = embedding_users(split.n_users, budget.n_embedding_users)
        return FedRecTruth(split.test_candidates, split.test_items, seen, users, budget.n_rounds)

    def validate(self, predictions: Predictions, truth: FedRecTruth) -> None:
        """Check the shapes, dtypes and finiteness of every array; byte counts must be >= 0."""
        n_users, n_items = truth.seen.shape
        predictions.check("sampled_scores", shape=(n_users, N_CANDIDATES), kind="f")
        predictions.check("full_scores", shape=(n_users, n_items), kind="f")
        table = predictions.check("item_emb_global", shape=(n_items, -1), kind="f")
        predictions.check("item_emb_personal", shape=(len(truth.embedding_users), n_items, table.shape[1]), kind="f")
        predictions.check("val_hr", shape=(truth.n_rounds,), kind="f")
        for name in ("bytes_up", "bytes_down"):
            counts = predictions.check(name, shape=(truth.n_rounds,), kind="f")
            if (counts < 0).any():
                msg = f"predictions[{name!r}] must be >= 0 bytes; got {float(counts.min())}."
                raise InvalidPredictionError(msg)

    def evaluate(self, predictions: Predictions, truth: FedRecTruth) -> dict[str, float]:
        """Sampled and full-ranking HR/NDCG@10, best validation HR, collapse measures, MiB per round, spectra."""
        from harness.metrics.collapse import effective_rank, stable_rank, uniformity
        from harness.metrics.ranking import hit_rate_at_k, ndcg_at_k

        relevance = truth.candidates == truth.test_items[:, None]
        sampled = predictions["sampled_scores"]
        full_relevance = np.zeros(truth.seen.shape, dtype=bool)
        full_relevance[np.arange(len(truth.test_items)), truth.test_items] = True
        full = predictions["full_scores"]
        out = {
            "hr_at_10": hit_rate_at_k(sampled, relevance, k=K),
            "ndcg_at_10": ndcg_at_k(sampled, relevance, k=K),
            "full_hr_at_10": hit_rate_at_k(full, full_relevance, k=K, exclude=truth.seen),
            "full_ndcg_at_10": ndcg_at_k(full, full_relevance, k=K, exclude=truth.seen),
            "val_hr_at_10": float(np.max(predictions["val_hr"])),
        }
        tables = {"global": predictions["item_emb_global"][None], "personal": predictions["item_emb_personal"]}
        for kind, stack in tables.items():
            out[f"erank_{kind}"] = float(np.mean([effective_rank(t) for t in stack]))
            out[f"srank_{kind}"] = float(np.mean([stable_rank(t) for t in stack]))
            out[f"uniformity_{kind}"] = float(np.mean([uniformity(t) for t in stack]))
        out["upload_mb_per_round"] = float(np.mean(predictions["bytes_up"]) / 2**20)
        out["download_mb_per_round"] = float(np.mean(predictions["bytes_down"]) / 2**20)
        return out

    def item_results(self, predictions: Predictions, truth: FedRecTruth) -> dict[str, np.ndarray]:
        """Per user: hit and NDCG@10 on the sampled candidates and in full ranking (training items masked)."""
        from harness.metrics.ranking import ranking_per_user

        sampled = ranking_per_user(predictions["sampled_scores"], truth.candidates == truth.test_items[:, None], k=K)
        full_relevance = np.zeros(truth.seen.shape, dtype=bool)
        full_relevance[np.arange(len(truth.test_items)), truth.test_items] = True
        full = ranking_per_user(predictions["full_scores"], full_relevance, k=K, exclude=truth.seen)
        return {"hit": sampled["hit"], "ndcg": sampled["ndcg"], "full_hit": full["hit"], "full_ndcg": full["ndcg"]}

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """HR@10 and NDCG@10, sampled and full, of every resample of the users."""
        from harness.metrics.resample import weighted_mean

        return {
            "hr_at_10": weighted_mean(items["hit"], weights),
            "ndcg_at_10": weighted_mean(items["ndcg"], weights),
            "full_hr_at_10": weighted_mean(items["full_hit"], weights),
            "full_ndcg_at_10": weighted_mean(items["full_ndcg"], weights),
        }

    def diagnostics(self, predictions: Predictions, truth: FedRecTruth) -> dict[str, np.ndarray]:
        """Normalised singular values of the global table and the mean over the measured users' tables."""
        tables = {"global": predictions["item_emb_global"][None], "personal": predictions["item_emb_personal"]}
        return {f"spectrum_{kind}": np.mean([spectrum(t) for t in stack], axis=0) for kind, stack in tables.items()}

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """One PNG per (dataset, subset): singular-value spectra of the global and personalised item tables."""
        from harness.tracks.fedrec.figures import spectrum_figures

        return spectrum_figures(rows, out_dir, diagnostics or {})
