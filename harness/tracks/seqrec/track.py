"""The ``seqrec`` track: next-item recommendation in each domain of a multi-domain dataset, full and sampled ranking.

Protocol (:mod:`harness.tracks.seqrec.split`): per domain, repeated (user, item) pairs dropped, the k-core filter
of the budget (5-core), chronological leave-one-out per user (last item test, second last validation), 100 fixed
negatives per user for the sampled view, all stored once in the cache of derived files. Each domain is a subset:
a job trains for one *target domain* and ranks its items for every user of it. Every job receives the training
sequences of every domain of the dataset (nothing of any domain's validation or test items but the target's
validation items), so a method may learn across domains (CPRec's continual pre-training) or from the target alone.
No model selection on test data: the only held-out item a method may look at is the validation item.

Data contract: :mod:`harness.tracks.seqrec.contract` (:class:`SeqRecTrain`, :class:`SeqRecInputs`, predictions
``full_scores`` (n_users, n_items) plus optional LM curves).

Metrics (higher is better): full ranking over every item of the domain, the user's history masked (training
items and the validation item): ``ndcg_at_10`` (main), ``hr_at_5``, ``hr_at_10``, ``hr_at_20``, ``ndcg_at_5``,
``ndcg_at_20``, ``mrr``; sampled ranking among the test item and its 100 fixed negatives: ``sampled_hr_at_10`` and
``sampled_ndcg_at_10`` (:mod:`harness.metrics.ranking`; ties count against the test item). The leaderboard's mean
over subsets is the mean over domains. Every metric is resampled over users for the intervals.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Predictions, Track
from harness.errors import InvalidPredictionError
from harness.registry import load_target
from harness.tracks.seqrec.budget import BUDGETS, SeqRecBudget
from harness.tracks.seqrec.contract import DomainSequences, SeqRecInputs, SeqRecTrain, SeqRecTruth
from harness.tracks.seqrec.split import N_NEGATIVES, PROTOCOL_VERSION, load_split

__all__ = ["CUTOFFS", "LM_CURVES", "SeqRecTrack", "ranking_items"]

#: Cut-offs of the full-ranking metrics.
CUTOFFS = (5, 10, 20)
#: Optional per-step arrays of an LM method, kept as diagnostics for the figures.
LM_CURVES = ("lm_tokens", "lm_lr", "lm_val_loss", "lm_stage", "lm_tokens_per_s")


def ranking_items(full: np.ndarray, truth: SeqRecTruth) -> dict[str, np.ndarray]:
    """Per user: hit and NDCG at every cut-off and reciprocal rank (full ranking), hit and NDCG@10 (sampled).

    Args:
        full: float array (n_users, n_items), a score per item.
        truth: The test items, the history mask and the sampled candidates.
    """
    from harness.metrics.ranking import ranking_per_user

    rows = np.arange(len(truth))
    relevance = np.zeros(truth.seen.shape, dtype=bool)
    relevance[rows, truth.test_items] = True
    out: dict[str, np.ndarray] = {}
    for k in CUTOFFS:
        per = ranking_per_user(full, relevance, k=k, exclude=truth.seen, validate=k == CUTOFFS[0])
        out[f"hit_{k}"], out[f"ndcg_{k}"] = per["hit"], per["ndcg"]
    out["rr"] = per["reciprocal_rank"]
    sampled = full[rows[:, None], truth.candidates]
    per = ranking_per_user(sampled, truth.candidates == truth.test_items[:, None], k=10)
    out["sampled_hit"], out["sampled_ndcg"] = per["hit"], per["ndcg"]
    return out


def _metrics_of(means: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k in CUTOFFS:
        out[f"hr_at_{k}"] = means[f"hit_{k}"]
        out[f"ndcg_at_{k}"] = means[f"ndcg_{k}"]
    out["mrr"] = means["rr"]
    out["sampled_hr_at_10"] = means["sampled_hit"]
    out["sampled_ndcg_at_10"] = means["sampled_ndcg"]
    return out


def _cut(d: Any, n_cut: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, items, times) without the last ``n_cut`` events of every user."""
    lengths = np.diff(d.indptr) - n_cut
    keep = np.ones(len(d.items), dtype=bool)
    for j in range(1, n_cut + 1):
        keep[d.indptr[1:] - j] = False
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return indptr, d.items[keep], d.times[keep]


def _training(d: Any) -> tuple[DomainSequences, np.ndarray]:
    """A domain's training sequences (the last two events of every user cut) and each user's validation item."""
    train = DomainSequences(d.name, d.titles, d.users, *_cut(d, 2))
    return train, d.items[d.indptr[1:] - 2]


class SeqRecTrack(Track):
    """Sequential recommendation per domain: full-ranking NDCG/HR@5/10/20, MRR, sampled HR/NDCG@10."""

    name = "seqrec"
    description = "Next-item recommendation per domain of a multi-domain dataset (leave-one-out by time, 5-core)."
    metrics = {
        "ndcg_at_10": True, "hr_at_10": True, "ndcg_at_5": True, "hr_at_5": True, "ndcg_at_20": True,
        "hr_at_20": True, "mrr": True, "sampled_hr_at_10": True, "sampled_ndcg_at_10": True,
    }
    headline_metrics = ("ndcg_at_10", "hr_at_10", "ndcg_at_20", "sampled_ndcg_at_10")
    cost_metric = "fit_s"
    budget_cls = SeqRecBudget
    budgets = BUDGETS
    default_dataset = "synth_amazon"
    budget_datasets = {"paper": "amazon_reviews"}
    budget_subsets = {"smoke": ("Books",)}
    shuffle_test = False
    protocol_version = PROTOCOL_VERSION
    tolerance = 0.05

    def subsets(self, root: Path, card: Any) -> list[str]:
        """The domains on disk."""
        return list(load_target(card.subsets_lister)(root))

    def grid_subsets(self, root: Path, card: Any, budget: Budget) -> list[str]:
        """The domains with users after the protocol; writes the split into the cache once, before the jobs.

        A cache that cannot be written is logged (:func:`~harness.tracks.seqrec.split.load_split`); each job then
        computes the same split itself.
        """
        split = self._split(root, card, budget)
        return [name for name in self.subsets(root, card) if name in split.domains and
                len(split.domains[name].users)]

    def protocol(self, card: Any) -> str:
        """The split rule, for the leaderboard's header."""
        return ("per domain: repeated (user, item) pairs dropped, k-core filter (the budget's min_interactions), "
                "leave-one-out by time (last item test, second last validation), full ranking over every item of "
                f"the domain with the user's history masked, and {N_NEGATIVES} fixed sampled negatives per user "
                f"(split protocol v{PROTOCOL_VERSION})")

    def _split(self, root: Path, card: Any, budget: Budget) -> Any:
        return load_split(root, card.name, loader=card.loader, min_interactions=budget.min_interactions,
                          cache_root=self.cache_root)

    @staticmethod
    def _domain(split: Any, card: Any, subset: str) -> Any:
        if subset not in split.domains:
            msg = (f"dataset {card.name!r} has no domain {subset!r} after the protocol; domains: "
                   f"{', '.join(split.domains)}.")
            raise ValueError(msg)
        return split.domains[subset]

    def load_train(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> SeqRecTrain:
        """Every domain's training sequences and the target's validation items; logs the protocol's counts."""
        split = self._split(root, card, budget)
        self._domain(split, card, subset)
        domains, val_items = {}, None
        log = logging.getLogger("parbench.job")
        for name, d in split.domains.items():
            domains[name], domain_val = _training(d)
            if name == subset:
                val_items = domain_val
            s = split.summary["domains"][name]
            log.info("%s/%s: %d users, %d items, %d events kept of %d read (%d repeats, %d by the %d-core filter, "
                     "%d malformed lines, %d events of items without metadata, %d users without room for %d "
                     "negatives)", card.name, name, s["users"], s["items"], s["events"], s["events_read"],
                     s["repeats_dropped"], s["events_dropped_kcore"], budget.min_interactions,
                     s.get("malformed_lines", 0), s.get("unknown_items", 0), s["users_dropped_no_room"], N_NEGATIVES)
        return SeqRecTrain(subset, domains, val_items, split.n_users, split.summary, self.cache_root)

    def load_test_inputs(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> SeqRecInputs:
        """The target domain's users and histories (training items, then the validation item)."""
        d = self._domain(self._split(root, card, budget), card, subset)
        indptr, items, times = _cut(d, 1)
        return SeqRecInputs(subset, d.users, indptr, items, times, d.n_items)

    def load_truth(self, root: Path, card: Any, subset: str, budget: Budget, *, seed: int = 0) -> SeqRecTruth:
        """Test items, the history mask and the sampled candidates (test item first, then the negatives)."""
        d = self._domain(self._split(root, card, budget), card, subset)
        indptr, items, _ = _cut(d, 1)
        test = d.items[d.indptr[1:] - 1]
        seen = np.zeros((len(d.users), d.n_items), dtype=bool)
        seen[np.repeat(np.arange(len(d.users)), np.diff(indptr)), items] = True
        candidates = np.concatenate([test[:, None], d.negatives], axis=1).astype(np.int64)
        return SeqRecTruth(test.astype(np.int64), seen, candidates)

    def validate(self, predictions: Predictions, truth: SeqRecTruth) -> None:
        """``full_scores`` of shape (n_users, n_items), finite floats; LM curves of equal length when given."""
        predictions.check("full_scores", shape=(len(truth), truth.n_items), kind="f")
        curves = [name for name in LM_CURVES[:4] if name in predictions.arrays]
        lengths = {len(np.asarray(predictions.arrays[name]).reshape(-1)) for name in curves}
        if len(lengths) > 1:
            msg = f"the LM curves {', '.join(curves)} must have one length; got lengths {sorted(lengths)}."
            raise InvalidPredictionError(msg)

    def evaluate(self, predictions: Predictions, truth: SeqRecTruth) -> dict[str, float]:
        """Every metric of :attr:`metrics` from the full scores (see the module docstring)."""
        items = ranking_items(predictions["full_scores"], truth)
        return {k: float(v) for k, v in _metrics_of({k: np.mean(v) for k, v in items.items()}).items()}

    def item_results(self, predictions: Predictions, truth: SeqRecTruth) -> dict[str, np.ndarray]:
        """Per user: hits, NDCG and reciprocal rank (:func:`ranking_items`)."""
        return ranking_items(predictions["full_scores"], truth)

    def resample_metrics(self, items: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric on resamples of the users."""
        from harness.metrics.resample import weighted_mean

        return _metrics_of({k: weighted_mean(np.asarray(items[k], dtype=np.float64), weights) for k in (
            *(f"{m}_{k}" for m in ("hit", "ndcg") for k in CUTOFFS), "rr", "sampled_hit", "sampled_ndcg")})

    def diagnostics(self, predictions: Predictions, truth: SeqRecTruth) -> dict[str, np.ndarray]:
        """The LM curves a method returned (learning rate and validation loss against tokens seen, throughput)."""
        return {name: np.asarray(predictions.arrays[name], dtype=np.float64).reshape(-1)
                for name in LM_CURVES if name in predictions.arrays}

    def leaderboard_figures(self, rows: Any, out_dir: Path, diagnostics: Any = None) -> list[Path]:
        """Learning-rate schedules and validation loss against tokens seen (LM methods); NDCG@10 per domain."""
        from harness.tracks.seqrec.figures import lm_curves, per_domain

        return lm_curves(rows, out_dir, diagnostics or {}) + per_domain(rows, out_dir)
