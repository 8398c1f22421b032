"""``parbench report``: what the store holds for a track, and why jobs failed."""

from __future__ import annotations

import argparse

from harness.cli._base import Subcommand, add_results, results_dir

__all__ = ["Report"]


class Report(Subcommand):
    """Count stored jobs by budget and status and list the failed ones."""

    name = "report"
    help = "summarise stored jobs of a track: statuses per budget, failed jobs with their error and log"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("track", help="track name")
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Print the summary."""
        from tabulate import tabulate

        from harness.store import Store

        store = Store(results_dir(args))
        rows = store.read(args.track)
        if rows.empty:
            print(f"no stored results for track {args.track!r} in {store.track_dir(args.track)}.")
            return 0
        jobs = rows.drop_duplicates("job_key")
        counts = jobs.groupby(["budget", "budget_hash", "status"]).size().reset_index(name="jobs")
        print(tabulate(counts.values.tolist(), headers=list(counts.columns), tablefmt="github"))
        failed = jobs[jobs["status"] != "ok"]
        if not failed.empty:
            print()
            table = [
                [f"{r.dataset}/{r.subset}", r.method, r.seed, r.status,
                 (r.error.strip().splitlines() or [""])[-1][:100],
                 str(store.track_dir(args.track) / r.log_path)]
                for r in failed.itertuples()
            ]
            print(tabulate(table, headers=["subset", "method", "seed", "status", "error", "log"], tablefmt="github"))
        return 0
