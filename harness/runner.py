"""Expand a grid into jobs and run each in its own process under the budget's limits.

Every job is forked from a warm fork server (``multiprocessing``'s forkserver with the track's
and methods' modules preloaded), so a job that does nothing costs a few tens of milliseconds
and the server never holds any test truth. The runner watches each job: past the budget's
wall-time limit it kills the job (status ``timeout``), past its memory limit likewise (``oom``);
a job that raises ends ``error`` with its traceback kept; predictions with NaN, a wrong shape or
dtype end ``invalid``. Truth is loaded, and every metric computed, in the runner's process only.
Each finished job is written to the store at once, so an interrupted run loses nothing finished,
and a rerun skips every job that already has an ``ok`` file (``--rerun-failed`` retries the rest).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.api import Budget, Job, Predictions, Track
from harness.cards import DatasetCard, dataset_fingerprint, load_card, resolve_dataset
from harness.errors import InvalidPredictionError, ParbenchError
from harness.job import EXIT_OOM, job_main
from harness.provenance import git_state, package_versions
from harness.registry import closest_names_error, method_config, method_kind, methods, methods_of, tracks
from harness.store import Store

__all__ = ["Plan", "RunSummary", "plan_run", "run_plan"]

_POLL_S = 0.02


@dataclass
class Plan:
    """A grid ready to run: the track, the budget, the dataset folder and the jobs."""

    track: Track
    budget: Budget
    card: DatasetCard
    root: Path
    fingerprint: str
    jobs: list[Job]


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
) -> Plan:
    """Resolve names, find (or generate) the dataset and expand the grid.

    Raises:
        UnknownNameError: A track, budget, dataset, subset or method name is unknown.
        DatasetNotFoundError: The dataset is not on disk.
    """
    track = tracks.get(track_name)()
    the_budget = track.budget(budget, **(overrides or {}))
    card = load_card(dataset or track.budget_datasets.get(budget, track.default_dataset))
    if card.track != track.name:
        msg = f"dataset {card.name!r} belongs to track {card.track!r}, not {track.name!r}."
        raise ParbenchError(msg)
    root = resolve_dataset(card, data_root)
    available = track.subsets(root, card)
    chosen = list(subsets) if subsets else list(track.budget_subsets.get(budget, available))
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
    fingerprint = dataset_fingerprint(root)
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
    return Plan(track, the_budget, card, root, fingerprint, jobs)


@dataclass
class _Running:
    job: Job
    process: Any
    out_dir: Path
    started: float
    started_at: str
    peak_mb: float = 0.0
    killed: str = ""


def _context(preload: list[str]) -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(preload)
    return ctx


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        return 0.0
    return total / 2**20


def _kill_tree(pid: int) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        victims = [*proc.children(recursive=True), proc]
    except psutil.Error:
        return
    for victim in victims:
        try:
            victim.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue


def run_plan(
    plan: Plan,
    store: Store,
    *,
    n_jobs: int = 1,
    rerun_failed: bool = False,
    device: str | None = None,
    progress: bool = True,
    on_result: Callable[[Job, str], None] | None = None,
) -> RunSummary:
    """Run the plan's pending jobs, ``n_jobs`` at a time, storing each as it finishes.

    Args:
        plan: From :func:`plan_run`.
        store: Where results go.
        n_jobs: Jobs run at once.
        rerun_failed: Also rerun jobs stored with a status other than ``ok``.
        device: ``auto``, ``cpu`` or ``cuda``; ``None`` takes the budget's device.
        progress: Show a progress bar on stderr.
        on_result: Called with each finished job and its status.

    Returns:
        The statuses of the jobs run and the number skipped.
    """
    from tqdm.auto import tqdm

    store.open(plan.track.name)
    done = store.statuses(plan.track.name)
    pending = [j for j in plan.jobs if j.key not in done or (rerun_failed and done[j.key] != "ok")]
    summary = RunSummary(skipped=len(plan.jobs) - len(pending))
    if not pending:
        return summary
    checkout = git_state(fresh=True)  # the code as the run starts: edits made while jobs run are not theirs
    _warm_up(plan.track)
    preload = ["harness.job", "harness.api", type(plan.track).__module__]
    preload += sorted({j.target.partition(":")[0] for j in pending})
    ctx = _context(preload)
    n_threads = max(1, (os.cpu_count() or 1) // max(1, n_jobs))
    truth_cache: dict[str, Any] = {}
    queue = list(pending)
    running: list[_Running] = []
    bar = tqdm(total=len(pending), desc=f"{plan.track.name}", unit="job", disable=not progress, leave=True)
    try:
        while queue or running:
            while queue and len(running) < max(1, n_jobs):
                running.append(_start(ctx, plan, store, queue.pop(0), device, n_threads))
            time.sleep(_POLL_S)
            for item in list(running):
                status = _watch(item, plan.budget)
                if status is None:
                    continue
                running.remove(item)
                status = _finish(item, plan, store, truth_cache, checkout)
                summary.counts[status] += 1
                if status != "ok":
                    log = store.log_path(plan.track.name, item.job.key)
                    summary.failed.append((item.job.label, status, str(log)))
                    bar.write(f"{item.job.label}: {status} (log: {log})")
                if on_result is not None:
                    on_result(item.job, status)
                bar.update(1)
                bar.set_postfix(dict(summary.counts))
    except BaseException:
        for item in running:
            _kill_tree(item.process.pid)
            item.process.join(timeout=5)
            shutil.rmtree(item.out_dir, ignore_errors=True)
        raise
    finally:
        bar.close()
    return summary


def _warm_up(track: Any) -> None:
    """The track's :meth:`~harness.api.Track.warm_up`; a failure is logged, and the jobs then show their own."""
    try:
        track.warm_up()
    except Exception as error:  # noqa: BLE001 - a warm-up is an optimisation: the jobs still run and report
        logging.getLogger(__name__).warning("%s: warm-up failed (%s: %s); the jobs run without it",
                                            track.name, type(error).__name__, error)


def _start(ctx: Any, plan: Plan, store: Store, job: Job, device: str | None, n_threads: int) -> _Running:
    out_dir = Path(tempfile.mkdtemp(prefix=f"parbench-{job.key}-"))
    spec = {
        "key": job.key,
        "track": job.track,
        "dataset": job.dataset,
        "subset": job.subset,
        "method": job.method,
        "target": job.target,
        "config": dict(job.config),
        "seed": job.seed,
        "budget": dict(job.budget),
        "card": dataclasses.asdict(plan.card),
        "root": str(plan.root),
        "device": device or plan.budget.device,
        "n_threads": n_threads,
        "log_path": str(store.log_path(job.track, job.key)),
        "runner_pid": os.getpid(),
    }
    process = ctx.Process(target=job_main, args=(spec, str(out_dir)), name=f"parbench-{job.key}")
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    process.start()
    return _Running(job, process, out_dir, time.perf_counter(), started_at)


def _watch(item: _Running, budget: Budget) -> str | None:
    """Return a status once the job has ended (killing it past a limit), else None."""
    if not item.process.is_alive():
        item.process.join()
        return "ended"
    item.peak_mb = max(item.peak_mb, _tree_rss_mb(item.process.pid))
    if item.peak_mb > budget.memory_limit_mb:
        item.killed = "oom"
    elif time.perf_counter() - item.started > budget.time_limit_s:
        item.killed = "timeout"
    else:
        return None
    _kill_tree(item.process.pid)
    item.process.join()
    return item.killed


def _finish(
    item: _Running, plan: Plan, store: Store, truth_cache: dict[str, Any], checkout: tuple[str, bool]
) -> str:
    """Score or classify the ended job, write its rows and remove its scratch folder."""
    wall_s = time.perf_counter() - item.started
    meta: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    error = ""
    budget = plan.budget
    code = item.process.exitcode
    error_file = item.out_dir / "error.txt"
    if item.killed == "timeout":
        status, error = "timeout", f"killed after {wall_s:.1f} s; the budget allows {budget.time_limit_s:g} s"
    elif item.killed == "oom":
        status = "oom"
        error = f"killed at {item.peak_mb:.0f} MiB resident; the budget allows {budget.memory_limit_mb} MiB"
    elif code == EXIT_OOM:
        status, error = "oom", error_file.read_text() if error_file.exists() else "MemoryError"
    elif code != 0:
        status = "error"
        if error_file.exists():
            error = error_file.read_text()
        elif code is not None and code < 0:
            name = signal.Signals(-code).name
            error = f"killed by {name}" + (" (possibly the system's out-of-memory killer)" if name == "SIGKILL" else "")
        else:
            error = f"exited with status {code} and no traceback"
    else:
        meta = json.loads((item.out_dir / "meta.json").read_text())
        status, metrics, error = _score(item, plan, store, truth_cache)
        if status == "ok":
            metrics.update(_costs(meta))
    rows = _rows(item, plan, status, metrics, error, meta, wall_s, checkout)
    store.write(plan.track.name, item.job.key, rows)
    shutil.rmtree(item.out_dir, ignore_errors=True)
    return status


def _figure_job(job: Job, plan: Plan) -> bool:
    """One figure per method: its job on the grid's first subset with the first seed."""
    first = plan.jobs[0]
    return job.subset == first.subset and job.seed == min(j.seed for j in plan.jobs)


def _score(
    item: _Running, plan: Plan, store: Store, truth_cache: dict[str, Any]
) -> tuple[str, dict[str, float], str]:
    subset, seed = item.job.subset, item.job.seed
    key = f"{subset}\0{seed if plan.track.seeded_split else ''}"
    try:
        if key not in truth_cache:
            truth_cache.clear()  # one subset's truth at a time keeps memory bounded
            truth_cache[key] = plan.track.load_truth(plan.root, plan.card, subset, plan.budget, seed=seed)
        truth = truth_cache[key]
        predictions = Predictions.load(item.out_dir / "predictions.npz")
        plan.track.validate(predictions, truth)
    except InvalidPredictionError as exc:
        return "invalid", {}, str(exc)
    except Exception:  # noqa: BLE001 - recorded as the job's error, the grid goes on
        return "error", {}, "scoring failed:\n" + traceback.format_exc()
    try:
        metrics = plan.track.evaluate(predictions, truth)
    except Exception:  # noqa: BLE001
        return "error", {}, "evaluation failed:\n" + traceback.format_exc()
    if plan.track.has_figures and _figure_job(item.job, plan):
        path = store.root / "leaderboards" / plan.track.name / f"{item.job.method}.png"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            plan.track.save_figure(predictions, truth, path, title=f"{item.job.method} on {item.job.label}")
        except Exception:  # noqa: BLE001 - a figure never fails a job
            (store.log_path(plan.track.name, item.job.key)).open("a").write(traceback.format_exc())
    bad = {k: v for k, v in metrics.items() if v != v}  # NaN
    if bad:
        return "invalid", {}, f"metrics undefined for these predictions: {sorted(bad)}"
    return "ok", metrics, ""


def _costs(meta: dict[str, Any]) -> dict[str, float]:
    n_items = max(1, int(meta.get("n_test") or 1))
    return {
        "fit_s": float(meta["fit_s"]),
        "predict_s_per_item": float(meta["predict_s"]) / n_items,
        "peak_memory_mb": float(meta["peak_memory_mb"]),
    }


def _rows(
    item: _Running,
    plan: Plan,
    status: str,
    metrics: dict[str, float],
    error: str,
    meta: dict[str, Any],
    wall_s: float,
    checkout: tuple[str, bool],
) -> list[dict[str, Any]]:
    job = item.job
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
        "wall_s": wall_s,
        "fit_s": meta.get("fit_s"),
        "predict_s": meta.get("predict_s"),
        "n_test": meta.get("n_test"),
        "peak_memory_mb": max(item.peak_mb, meta.get("peak_memory_mb", 0.0)),
        "device": meta.get("device", plan.budget.device),
        "budget": plan.budget.name,
        "budget_hash": job.budget_hash,
        "budget_json": json.dumps(dict(job.budget), sort_keys=True),
        "fingerprint": job.fingerprint,
        "git_commit": commit,
        "git_dirty": dirty,
        "versions": package_versions(),
        "started_at": item.started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "log_path": str(Path("logs") / f"{job.key}.log"),
    }
    return [
        {**common, "metric": metric, "value": metrics.get(metric), "higher_is_better": higher}
        for metric, higher in plan.track.all_metrics.items()
    ]
