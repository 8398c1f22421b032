"""``parbench check``: rerun the ``smoke`` budget and compare with results/reference/<track>.csv."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from harness.cli._base import Subcommand, add_cache, add_data_root, add_results, results_dir

__all__ = ["Check", "check_track"]

BUDGET = "smoke"


def check_track(track_name: str, results: Path, *, data_root: Path | None, update: bool, n_jobs: int,
                cache: Path | None = None) -> int:
    """Run the smoke grid of one track into a fresh store and compare; return the number of failures."""
    from harness.provenance import git_state, package_versions
    from harness.regress import compare, fresh_table, read_reference, write_reference
    from harness.runner import plan_run, run_plan
    from harness.store import Store

    reference_path = results / "reference" / f"{track_name}.csv"
    reference = None if update else read_reference(reference_path)
    plan = plan_run(track_name, budget=BUDGET, data_root=data_root, cache=cache)
    if reference is not None:  # only the jobs the reference names
        wanted = set(zip(reference["subset"], reference["method"], strict=True))
        plan.jobs = [j for j in plan.jobs if (j.subset, j.method) in wanted or (j.method, "mean") in wanted]
    scratch = results / "check" / track_name
    shutil.rmtree(scratch, ignore_errors=True)
    store = Store(scratch)
    run_plan(plan, store, n_jobs=n_jobs, progress=sys.stderr.isatty())
    fresh = fresh_table(store.read(track_name), plan.track.all_metrics)
    if update:
        commit, dirty = git_state()
        provenance = {
            "command": f"parbench check {track_name} --update",
            "commit": commit + (" (dirty)" if dirty else ""),
            "budget": f"{BUDGET} ({plan.budget.hash()})",
            "fingerprint": plan.fingerprint,
            "seeds": json.dumps(list(plan.budget.seeds)),
            "versions": package_versions(),
        }
        n_rows = write_reference(fresh, reference_path, provenance=provenance,
                                 default_tolerance=getattr(plan.track, "tolerance", 0.02),
                                 exclude=plan.track.hardware_metrics)
        print(f"{track_name}: wrote {n_rows} reference rows to {reference_path}", file=sys.stderr)
        return 0
    mismatches, n_checked = compare(fresh, reference)
    for mismatch in mismatches:
        print(f"{track_name}: {mismatch}")
    verdict = "ok" if not mismatches else f"{len(mismatches)} of {n_checked} outside tolerance"
    print(f"{track_name}: {n_checked} reference values checked, {verdict}.")
    return len(mismatches)


class Check(Subcommand):
    """Regression check of the ``smoke`` budget against the committed reference values."""

    name = "check"
    help = "rerun the smoke budget and fail when a metric leaves its reference tolerance"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("tracks", nargs="*", help="tracks to check; default: every track with a reference file")
        parser.add_argument("--update", action="store_true", help="rewrite the reference from this run, on purpose")
        parser.add_argument("--jobs", type=int, default=1, metavar="N", help="jobs run at once")
        add_data_root(parser)
        add_cache(parser)
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Check each track; exit 1 when any value is off."""
        results = results_dir(args)
        names = args.tracks or sorted(p.stem for p in (results / "reference").glob("*.csv"))
        if not names:
            print(f"no reference files in {results / 'reference'}; nothing to check.", file=sys.stderr)
            return 0
        failures = sum(
            check_track(name, results, data_root=args.data_root, update=args.update, n_jobs=args.jobs,
                        cache=args.cache)
            for name in names
        )
        return 1 if failures else 0
