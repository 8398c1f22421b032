"""``parbench report``: the static HTML report of a track, and what the store holds for it."""

from __future__ import annotations

import argparse
import sys

from harness.cli._base import Subcommand, add_results, results_dir

__all__ = ["Report"]


class Report(Subcommand):
    """Write the HTML report of one budget's results and print the stored jobs by status."""

    name = "report"
    help = ("write results/report/<track>-<budget>.html (self-contained: leaderboard with intervals and "
            "significance marks, critical-difference diagram, paired comparisons, quality-vs-cost scatter, the "
            "track's figures, provenance) and index.html; print stored jobs by status and the failed ones")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("track", help="track name")
        parser.add_argument("--budget", default=None,
                            help="budget whose results make the report (default: the only one stored, else default)")
        parser.add_argument("--out", default=None, help="folder of the pages (default: <results>/report)")
        parser.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates per cell")
        parser.add_argument("--alpha", type=float, default=0.05, help="level of the intervals and tests")
        parser.add_argument("--status-only", action="store_true", help="only print the stored jobs by status")
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Print the summary, then write the page."""
        from pathlib import Path

        from harness.registry import tracks
        from harness.store import Store

        track = tracks.get(args.track)()
        results = results_dir(args)
        store = Store(results)
        rows = store.read(track.name)
        if rows.empty:
            print(f"no stored results for track {track.name!r} in {store.track_dir(track.name)}; "
                  f"run `parbench run {track.name} --budget {args.budget or 'default'}` first.")
            return 1
        _print_status(rows, store, track.name)
        if args.status_only:
            return 0
        stored = sorted(rows["budget"].unique())
        budget = args.budget or (stored[0] if len(stored) == 1 else "default")
        from harness.cli.leaderboard import check_level, track_board
        from harness.report import write_report

        check_level(args.replicates, args.alpha)
        board = track_board(track, results, budget=budget, n_replicates=args.replicates, alpha=args.alpha)
        out = Path(args.out) if args.out else results / "report"
        page = write_report(board, results / "leaderboards" / track.name, out, cost=track.cost_metric,
                            description=track.description)
        print(f"wrote {page} and {out / 'index.html'}", file=sys.stderr)
        return 0


def _print_status(rows: object, store: object, track: str) -> None:
    from tabulate import tabulate

    jobs = rows.drop_duplicates("job_key")
    counts = jobs.groupby(["budget", "budget_hash", "status"]).size().reset_index(name="jobs")
    print(tabulate(counts.values.tolist(), headers=list(counts.columns), tablefmt="github"))
    failed = jobs[jobs["status"] != "ok"]
    if not failed.empty:
        print()
        table = [
            [f"{r.dataset}/{r.subset}", r.method, r.seed, r.status, (r.error.strip().splitlines() or [""])[-1][:100],
             str(store.track_dir(track) / r.log_path)]
            for r in failed.itertuples()
        ]
        print(tabulate(table, headers=["subset", "method", "seed", "status", "error", "log"], tablefmt="github"))
