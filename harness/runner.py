"""Expand a grid into jobs, hand them to an executor, score and store each as it ends.

Planning (:func:`plan_run`) resolves names, finds the dataset and expands the grid; running
(:func:`run_plan`) hands each pending job to an executor (:mod:`harness.executors`; by default the
local pool of processes forked from a warm fork server that never holds any test truth), which
kills a job past the budget's wall-time limit (status ``timeout``) or memory limit (``oom``). A job
that raises ends ``error`` with its traceback kept; predictions with NaN, a wrong shape or dtype end
``invalid``. Truth is loaded, put in the job's test order, and every metric computed, in the
runner's process only.
Each finished job is written to the store at once, so an interrupted run loses nothing finished,
and a rerun skips every job that already has an ``ok`` file (``--rerun-failed`` retries the rest).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from harness.api import Budget, Job, Predictions, Track, stable_hash, test_order
from harness.cache import check_outside, resolve_cache_root
from harness.cards import DatasetCard, dataset_fingerprint, default_data_root, load_card, resolve_dataset
from harness.errors import InvalidPredictionError, ParbenchError
from harness.executors import Executor, LocalExecutor, Outcome, Task
from harness.job import EXIT_OOM
from harness.provenance import git_state, package_versions
from harness.registry import closest_names_error, method_config, method_kind, methods, methods_of, tracks
from harness.store import Store

__all__ = ["Plan", "RunSummary", "plan_run", "run_plan"]


@dataclass
class Plan:
    """A grid ready to run: the track, the budget, the dataset folder and the jobs."""

    track: Track
    budget: Budget
    card: DatasetCard
    root: Path
    fingerprint: str
    jobs: list[Job]
    #: The data root the dataset was found under (``--data-root``, ``$PARBENCH_DATA`` or the default).
    data_root: Path | None = None
    #: The cache of derived files (``--cache``, ``$PARBENCH_CACHE`` or the default; :mod:`harness.cache`).
    cache_root: Path | None = None


@dataclass
class RunSummary:
    """What a run did: statuses of the jobs it ran, and how many it skipped as already done."""

    counts: Counter = field(default_factory=Counter)
    skipped: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        """Jobs of this run that did not end ``ok``."""
        return sum(n for status, n in self.counts.items() if status != "ok")


def plan_run(
    track_name: str,
    *,
    budget: str = "default",
    dataset: str | None = None,
    data_root: Path | None = None,
    subsets: Sequence[str] | None = None,
    method_names: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: dict[str, Any] | None = None,
    cache: Path | None = None,
) -> Plan:
    """Resolve names, find (or generate) the dataset and expand the grid.

    The plan's fingerprint is the dataset folder's (:func:`~harness.cards.dataset_fingerprint`), joined with the
    track's :attr:`~harness.api.Track.protocol_version` when it has one: what a track derives from the data lives
    in the cache of derived files (``cache``; :mod:`harness.cache`), outside the folder, and a new protocol must
    still give new job keys.

    Raises:
        UnknownNameError: A track, budget, dataset, subset or method name is unknown.
        DatasetNotFoundError: The dataset is not on disk.
        BudgetError: A budget field or a method's config breaks its declared rule, or the weights file is missing.
        ParbenchError: The cache of derived files lies inside the dataset folder.
    """
    track = tracks.get(track_name)()
    track.cache_root = resolve_cache_root(cache)
    overrides = dict(overrides or {})
    if overrides.get("weights", "random") != "random":  # jobs run in their own folder: give them the full path
        overrides["weights"] = str(Path(overrides["weights"]).expanduser().resolve())
    the_budget = track.budget(budget, **overrides)
    the_budget.weights_id()  # a missing checkpoint fails here, once, not in every job
    budget_dataset = track.budget_datasets.get(budget, track.default_dataset)
    card = load_card(dataset or budget_dataset)
    if card.track != track.name:
        msg = f"dataset {card.name!r} belongs to track {card.track!r}, not {track.name!r}."
        raise ParbenchError(msg)
    root = resolve_dataset(card, data_root)
    check_outside(track.cache_root, root)
    available = track.grid_subsets(root, card, the_budget)
    preset = track.budget_subsets.get(budget) if card.name == budget_dataset else None  # they name its subsets
    chosen = list(subsets) if subsets else list(preset or available)
    for subset in chosen:
        if subset not in available:
            error = closest_names_error("subset", subset, available, where=f"dataset {card.name!r} at {root}")
            raise error
    own = methods_of(track.name)
    names = list(method_names) if method_names else own
    for name in names:
        if name not in own:
            error = closest_names_error("method", name, own, where=f"track {track.name!r}")
            raise error
        with warnings.catch_warnings():  # the libraries' import-time notices belong in the job logs, not here
            warnings.simplefilter("ignore")
            method_cls = methods.get(name)
        method_cls.make_config(method_config(name))  # a bad config fails here, once, not in every job
    fingerprint = dataset_fingerprint(root)
    if track.protocol_version:
        fingerprint = stable_hash({"dataset": fingerprint, "protocol": f"{track.name}/{track.protocol_version}"})
    budget_dict = the_budget.to_dict()
    jobs = [
        Job(
            track=track.name,
            dataset=card.name,
            subset=subset,
            method=name,
            target=methods.target(name),
            config=method_config(name),
            seed=seed,
            budget=budget_dict,
            budget_hash=the_budget.hash(),
            fingerprint=fingerprint,
        )
        for subset in chosen
        for name in names
        for seed in (seeds if seeds is not None else the_budget.seeds)
    ]
    base = Path(data_root).expanduser() if data_root else default_data_root()
    return Plan(track, the_budget, card, root, fingerprint, jobs, base.resolve(), track.cache_root)


def _order_seed(job: Job) -> int:
    """Seed of the job's test order, from its key (which the method never receives)."""
    return int(stable_hash({"job": job.key, "use": "test order"}), 16)


def _task(plan: Plan, job: Job, device: str | None, n_threads: int) -> Task:
    spec = {
        "key": job.key,
        "track": job.track,
        "dataset": job.dataset,
        "subset": job.subset,
        "method": job.method,
        "target": job.target,
        "config": dict(job.config),
        "seed": job.seed,
        "order_seed": _order_seed(job),
        "budget": dict(job.budget),
        "card": dataclasses.asdict(plan.card),
        "root": str(plan.root),
        "data_root": str(plan.data_root or plan.root),
        "cache_root": str(plan.cache_root or resolve_cache_root()),
        "device": device or plan.budget.device,
        "n_threads": n_threads,
        "runner_pid": os.getpid(),
    }
    return Task(job, spec, plan.budget.time_limit_s, plan.budget.memory_limit_mb)


def _pending(plan: Plan, store: Store, *, rerun_failed: bool) -> list[Job]:
    """Jobs of the plan without an ``ok`` file (with ``rerun_failed``, also those stored with another status)."""
    store.open(plan.track.name)
    done = store.statuses(plan.track.name)
    return [j for j in plan.jobs if j.key not in done or (rerun_failed and done[j.key] != "ok")]


def _preload(plan: Plan, jobs: Sequence[Job]) -> list[str]:
    """Modules the fork server imports once: the engine's job code, the track's and the methods' modules."""
    return ["harness._quiet", "harness.job", "harness.api", type(plan.track).__module__,
            *sorted({j.target.partition(":")[0] for j in jobs})]


def run_plan(
    plan: Plan,
    store: Store,
    *,
    n_jobs: int = 1,
    rerun_failed: bool = False,
    device: str | None = None,
    progress: bool = True,
    on_result: Callable[[Job, str], None] | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Run the plan's pending jobs through an executor, storing each as it finishes.

    Args:
        plan: From :func:`plan_run`.
        store: Where results go.
        n_jobs: Jobs run at once by the default :class:`~harness.executors.LocalExecutor`.
        rerun_failed: Also rerun jobs stored with a status other than ``ok``.
        device: ``auto``, ``cpu`` or ``cuda``; ``None`` takes the budget's device.
        progress: Show a progress bar on stderr.
        on_result: Called with each finished job and its status.
        executor: Where the jobs run (default: a local pool of ``n_jobs`` processes).

    Returns:
        The statuses of the jobs run and the number skipped.
    """
    pending = _pending(plan, store, rerun_failed=rerun_failed)
    summary = RunSummary(skipped=len(plan.jobs) - len(pending))
    if not pending:
        return summary
    checkout = git_state(fresh=True)  # the code as the run starts: edits made while jobs run are not theirs
    _warm_up(plan.track)
    executor = executor if executor is not None else LocalExecutor(n_jobs)
    n_threads = executor.threads_per_job or max(1, (os.cpu_count() or 1) // max(1, executor.n_slots))
    queue = [_task(plan, job, device, n_threads) for job in pending]
    scorer = _Scorer(plan, store, checkout)
    with _Report(plan.track.name, len(pending), summary, store, progress=progress, on_result=on_result) as report:
        with executor:
            executor.open(_preload(plan, pending))
            while queue or executor.n_running:
                while queue and executor.n_running < executor.n_slots:
                    executor.submit(queue.pop(0))
                for outcome in executor.wait(timeout_s=0.5):
                    report.add(outcome.task.job, scorer.finish(outcome))
    return summary


class _Report:
    """The console side of a run: a progress bar, one line per failed job, the summary's counts."""

    def __init__(self, track: str, n_jobs: int, summary: RunSummary, store: Store, *, progress: bool,
                 on_result: Callable[[Job, str], None] | None) -> None:
        from tqdm.auto import tqdm

        self.track, self.summary, self.store, self.on_result = track, summary, store, on_result
        self.bar = tqdm(total=n_jobs, desc=track, unit="job", disable=not progress, leave=True)

    def add(self, job: Job, status: str) -> None:
        self.summary.counts[status] += 1
        if status != "ok":
            log = self.store.log_path(self.track, job.key)
            self.summary.failed.append((job.label, status, str(log)))
            self.bar.write(f"{job.label}: {status} (log: {log})")
        if self.on_result is not None:
            self.on_result(job, status)
        self.bar.update(1)
        self.bar.set_postfix(dict(self.summary.counts))

    def __enter__(self) -> _Report:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.close()


def _warm_up(track: Any) -> None:
    """The track's :meth:`~harness.api.Track.warm_up`; a failure is logged, and the jobs then show their own."""
    try:
        track.warm_up()
    except Exception as error:  # noqa: BLE001 - a warm-up is an optimisation: the jobs still run and report
        logging.getLogger(__name__).warning("%s: warm-up failed (%s: %s); the jobs run without it",
                                            track.name, type(error).__name__, error)


class _Scorer:
    """Turns each ended job into its rows: classify the ending, score the predictions, write, clean up."""

    def __init__(self, plan: Plan, store: Store, checkout: tuple[str, bool]) -> None:
        self.plan, self.store, self.checkout = plan, store, checkout
        self.truth_cache: dict[str, Any] = {}

    def finish(self, outcome: Outcome) -> str:
        """Score or classify the ended job, write its rows and log, remove its scratch folder; return the status."""
        job, plan = outcome.task.job, self.plan
        _keep_log(outcome, self.store.log_path(job.track, job.key))
        meta: dict[str, Any] = {}
        metrics: dict[str, float] = {}
        status, error = _ending(outcome, plan.budget)
        if status == "ok":
            meta = json.loads((outcome.out_dir / "meta.json").read_text())
            meta["peak_memory_mb"] = outcome.peak_mb
            status, metrics, error, arrays = _score(outcome, plan, self.store, self.truth_cache)
            if status == "ok":
                metrics.update(_costs(meta))
                self.store.write_arrays(plan.track.name, job.key, *arrays)
        rows = _rows(outcome, plan, status, metrics, error, meta, self.checkout)
        self.store.write(plan.track.name, job.key, rows)
        shutil.rmtree(outcome.out_dir, ignore_errors=True)
        return status


def _keep_log(outcome: Outcome, target: Path) -> None:
    """Move the job's log from its scratch folder into the store, with a last line on the job's own memory."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = outcome.out_dir / "job.log"
    if source.exists():
        shutil.copyfile(source, target)
    else:
        target.write_text("")
    with target.open("a") as handle:
        accounted = outcome.memory_kind or "the executor"
        handle.write(f"peak own memory {outcome.peak_mb:.0f} MiB (accounted by {accounted})\n")


def _ending(outcome: Outcome, budget: Budget) -> tuple[str, str]:
    """Status and error text of how the job's process ended (``ok`` when it exited cleanly)."""
    code, wall_s = outcome.exitcode, outcome.wall_s
    error_file = outcome.out_dir / "error.txt"
    if outcome.killed == "timeout":
        return "timeout", f"killed after {wall_s:.1f} s; the budget allows {budget.time_limit_s:g} s"
    if outcome.killed == "oom":
        return "oom", (f"killed at {outcome.peak_mb:.0f} MiB of its own memory; "
                       f"the budget allows {budget.memory_limit_mb} MiB")
    if code == EXIT_OOM:
        return "oom", error_file.read_text() if error_file.exists() else "MemoryError"
    if code == 0:
        return "ok", ""
    if error_file.exists():
        return "error", error_file.read_text()
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        return "error", f"killed by {name}" + (
            " (possibly the system's out-of-memory killer)" if name == "SIGKILL" else "")
    return "error", f"exited with status {code} and no traceback"


def _figure_job(job: Job, plan: Plan) -> bool:
    """One figure per method: its job on the grid's first subset with the first seed."""
    first = plan.jobs[0]
    return job.subset == first.subset and job.seed == min(j.seed for j in plan.jobs)


_Arrays = tuple[dict[str, Any], dict[str, Any]]


def _score(
    outcome: Outcome, plan: Plan, store: Store, truth_cache: dict[str, Any]
) -> tuple[str, dict[str, float], str, _Arrays]:
    """Status, metrics, error text and (per-item results in the track's item order, diagnostics) of a job."""
    job = outcome.task.job
    subset, seed = job.subset, job.seed
    key = f"{subset}\0{seed if plan.track.seeded_split else ''}"
    order = None
    try:
        if key not in truth_cache:
            truth_cache.clear()  # one subset's truth at a time keeps memory bounded
            truth_cache[key] = plan.track.load_truth(plan.root, plan.card, subset, plan.budget, seed=seed)
        truth = truth_cache[key]
        if plan.track.shuffle_test:  # the order the job received its inputs in
            order = test_order(len(truth), _order_seed(job))
            truth = plan.track.reorder_truth(truth, order)
        predictions = Predictions.load(outcome.out_dir / "predictions.npz")
        plan.track.validate(predictions, truth)
    except InvalidPredictionError as exc:
        return "invalid", {}, str(exc), ({}, {})
    except Exception:  # noqa: BLE001 - recorded as the job's error, the grid goes on
        return "error", {}, "scoring failed:\n" + traceback.format_exc(), ({}, {})
    try:
        metrics = plan.track.evaluate(predictions, truth)
        items = {name: _unshuffle(np.asarray(array), order)
                 for name, array in plan.track.item_results(predictions, truth).items()}
        diagnostics = plan.track.diagnostics(predictions, truth)
    except Exception:  # noqa: BLE001
        return "error", {}, "evaluation failed:\n" + traceback.format_exc(), ({}, {})
    if plan.track.has_figures and _figure_job(job, plan):
        path = store.root / "leaderboards" / plan.track.name / f"{job.method}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            plan.track.save_figure(predictions, truth, path, title=f"{job.method} on {job.label}")
        except Exception:  # noqa: BLE001 - a figure never fails a job
            with store.log_path(plan.track.name, job.key).open("a") as handle:
                handle.write(traceback.format_exc())
    bad = {k: v for k, v in metrics.items() if v != v}  # NaN
    if bad:
        return "invalid", {}, f"metrics undefined for these predictions: {sorted(bad)}", ({}, {})
    return "ok", metrics, "", (items, diagnostics)


def _unshuffle(array: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """Put a per-item array of a job's test order back in the track's item order (row i is item ``order[i]``)."""
    if order is None:
        return array
    out = np.empty_like(array)
    out[order] = array
    return out


def _costs(meta: dict[str, Any]) -> dict[str, float]:
    """The cost metrics of a finished job; ``peak_memory_mb`` is its own memory, not the pages it shares."""
    n_items = max(1, int(meta.get("n_test") or 1))
    return {
        "fit_s": float(meta["fit_s"]),
        "predict_s_per_item": float(meta["predict_s"]) / n_items,
        "peak_memory_mb": float(meta["peak_memory_mb"]),
    }


def _rows(
    outcome: Outcome,
    plan: Plan,
    status: str,
    metrics: dict[str, float],
    error: str,
    meta: dict[str, Any],
    checkout: tuple[str, bool],
) -> list[dict[str, Any]]:
    job = outcome.task.job
    commit, dirty = checkout
    common = {
        "job_key": job.key,
        "track": job.track,
        "dataset": job.dataset,
        "subset": job.subset,
        "method": job.method,
        "method_kind": method_kind(job.method) if job.method in methods else "method",
        "method_config": json.dumps(dict(job.config), sort_keys=True),
        "seed": job.seed,
        "status": status,
        "error": error[-20000:],
        "wall_s": outcome.wall_s,
        "fit_s": meta.get("fit_s"),
        "predict_s": meta.get("predict_s"),
        "n_test": meta.get("n_test"),
        "peak_memory_mb": outcome.peak_mb,
        "peak_device_memory_mb": meta.get("peak_device_memory_mb"),
        "device": meta.get("device", plan.budget.device),
        "budget": plan.budget.name,
        "budget_hash": job.budget_hash,
        "weights": plan.budget.weights_id(),
        "budget_json": json.dumps(dict(job.budget), sort_keys=True),
        "fingerprint": job.fingerprint,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": package_versions(),
        "started_at": outcome.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "log_path": str(Path("logs") / f"{job.key}.log"),
    }
    return [
        {**common, "metric": metric, "value": metrics.get(metric), "higher_is_better": higher}
        for metric, higher in plan.track.all_metrics.items()
    ]
