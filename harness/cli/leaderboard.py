"""``parbench leaderboard``: write results/leaderboards/<track>.{csv,md} from the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.cli._base import Subcommand, add_results, results_dir

__all__ = ["Leaderboard", "write_track_leaderboard"]


def write_track_leaderboard(track: Any, results: Path, *, budget: str) -> Path:
    """Write the leaderboard of ``track`` under ``budget`` and return the Markdown path."""
    from harness.leaderboard import select_rows, write_leaderboard
    from harness.store import Store

    rows = Store(results).read(track.name)
    out_dir = results / "leaderboards"
    track.leaderboard_figures(select_rows(rows, budget=budget, track=track.name), out_dir / track.name)
    hidden = set(track.figure_metrics)
    rows = rows[~rows["metric"].isin(hidden)]
    metrics = {name: higher for name, higher in track.all_metrics.items() if name not in hidden}
    figures = sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / track.name).glob("*.png"))
    preset = track.budget(budget).to_dict() if budget in track.budgets else None
    csv_path, md_path = write_leaderboard(
        rows, track=track.name, metrics=metrics, budget=budget, out_dir=out_dir, figures=figures, preset=preset
    )
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return md_path


class Leaderboard(Subcommand):
    """Aggregate stored results of one budget into ranked tables."""

    name = "leaderboard"
    help = "write results/leaderboards/<track>.csv and .md (mean ± std over seeds, ranked)"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("track", help="track name")
        parser.add_argument("--budget", default="default", help="budget whose results make the table")
        parser.add_argument("--print", action="store_true", help="also print the Markdown")
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Write (and optionally print) the leaderboard."""
        from harness.registry import tracks

        track = tracks.get(args.track)()
        md_path = write_track_leaderboard(track, results_dir(args), budget=args.budget)
        if args.print:
            print(md_path.read_text())
        return 0
