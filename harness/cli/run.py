"""``parbench run``: expand a grid into jobs and run them, resuming what is stored."""

from __future__ import annotations

import argparse
import sys

from harness.cli._base import (
    Subcommand,
    add_cache,
    add_data_root,
    add_results,
    comma_list,
    int_list,
    parse_overrides,
    results_dir,
)
from harness.errors import ParbenchError

__all__ = ["Run"]


def _overrides(args: argparse.Namespace) -> dict:
    overrides = parse_overrides(args.overrides)
    if args.weights is not None:
        from pathlib import Path

        from harness.errors import ParbenchError

        weights = Path(args.weights).expanduser().resolve()
        if not weights.is_file():
            msg = f"--weights {args.weights}: no such file; give the path of a local checkpoint (.pt or .safetensors)."
            raise ParbenchError(msg)
        overrides["weights"] = str(weights)
    return overrides


class Run(Subcommand):
    """Run every (subset, method, seed) job of a track under one budget."""

    name = "run"
    help = "run a track's grid under one budget (resumes: stored ok jobs are skipped)"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the grid and runner options."""
        parser.add_argument("track", help="track name (see `parbench list tracks`)")
        parser.add_argument("--budget", default="default", help="budget preset: smoke, default or paper")
        parser.add_argument("--dataset", default=None, help="dataset card name; default: the budget's dataset")
        add_data_root(parser)
        add_cache(parser)
        parser.add_argument("--subsets", type=comma_list, default=None, metavar="A,B", help="subsets to run")
        parser.add_argument("--methods", type=comma_list, default=None, metavar="M1,M2", help="methods to run")
        parser.add_argument("--seeds", type=int_list, default=None, metavar="0,1,2", help="seeds; default: budget's")
        parser.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override one budget field (changes the budget hash), e.g. --set time_limit_s=60",
        )
        parser.add_argument(
            "--weights",
            default=None,
            metavar="PATH",
            help="local backbone checkpoint every method loads alike (same as --set weights=PATH); default random init",
        )
        parser.add_argument("--jobs", type=int, default=1, metavar="N",
                            help="jobs run at once by the local executor (default 1)")
        parser.add_argument("--executor", choices=("local", "ray"), default="local",
                            help="where jobs run: local (a fork-server pool on this machine, default) or ray (every "
                                 "job a Ray task; needs pip install '.[ray]' and the data folder at the same path "
                                 "on every node)")
        parser.add_argument("--address", default=None, metavar="auto|HOST:PORT",
                            help="Ray cluster to join (with --executor ray); default: start a local Ray instance")
        parser.add_argument("--cpus-per-job", type=int, default=1, metavar="N",
                            help="CPUs (and threads) each job asks Ray for (with --executor ray; default 1)")
        parser.add_argument("--rerun-failed", action="store_true", help="also rerun stored jobs that did not end ok")
        parser.add_argument(
            "--device", choices=("auto", "cpu", "cuda"), default=None, help="device; default: the budget's device"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument("--leaderboard", action="store_true", help="write the leaderboard after the run")
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Plan, run, summarise."""
        from harness.runner import plan_run, run_plan
        from harness.store import Store

        plan = plan_run(
            args.track,
            budget=args.budget,
            dataset=args.dataset,
            data_root=args.data_root,
            subsets=args.subsets,
            method_names=args.methods,
            seeds=args.seeds,
            overrides=_overrides(args),
            cache=args.cache,
        )
        store = Store(results_dir(args))
        print(
            f"{plan.track.name}: {len(plan.jobs)} jobs on {plan.card.name} ({plan.root}), "
            f"budget {plan.budget.name} ({plan.budget.hash()})",
            file=sys.stderr,
        )
        executor = None
        if args.executor == "ray":
            from harness.executors.ray_cluster import RayExecutor

            executor = RayExecutor(args.address, cpus_per_job=args.cpus_per_job)
        elif args.address is not None:
            msg = "--address names a Ray cluster: pass it with --executor ray."
            raise ParbenchError(msg)
        summary = run_plan(
            plan,
            store,
            n_jobs=args.jobs,
            rerun_failed=args.rerun_failed,
            device=args.device,
            progress=not args.no_progress,
            executor=executor,
        )
        counts = ", ".join(f"{n} {s}" for s, n in sorted(summary.counts.items())) or "nothing to run"
        print(f"{plan.track.name}: {counts}; {summary.skipped} already stored; results in "
              f"{store.track_dir(plan.track.name)} (logs in logs/).", file=sys.stderr)
        if args.leaderboard:
            from harness.cli.leaderboard import write_track_leaderboard

            write_track_leaderboard(plan.track, store.root, budget=plan.budget.name)
        return 0
