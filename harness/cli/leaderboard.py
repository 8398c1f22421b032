"""``parbench leaderboard``: write results/leaderboards/<track>.{csv,md} from the store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.api import COST_METRICS
from harness.cli._base import Subcommand, add_results, results_dir

__all__ = ["Leaderboard", "check_level", "track_board", "write_track_leaderboard"]


def check_level(n_replicates: int, alpha: float) -> None:
    """Refuse a replicate count below 100 or a level outside (0, 0.5), saying what to pass.

    Raises:
        ParbenchError: Either value is out of range.
    """
    from harness.errors import ParbenchError

    if n_replicates < 100:
        msg = f"--replicates must be at least 100 (percentile intervals need them); got {n_replicates}."
        raise ParbenchError(msg)
    if not 0 < alpha < 0.5:
        msg = f"--alpha must lie in (0, 0.5), e.g. 0.05 for 95% intervals; got {alpha}."
        raise ParbenchError(msg)


def track_board(track: Any, results: Path, *, budget: str, n_replicates: int = 1000, alpha: float = 0.05) -> Any:
    """Build the :class:`~harness.leaderboard.Board` of ``track`` under ``budget`` from the store under ``results``.

    Draws the track's figures of the whole table into ``results/leaderboards/<track>/`` on the way.
    """
    from harness.leaderboard import build_board, item_replicates, select_rows
    from harness.store import Store

    store = Store(results)
    rows = store.read(track.name)
    chosen = select_rows(rows, budget=budget, track=track.name)
    ok_keys = chosen.loc[chosen["status"] == "ok", "job_key"].unique()
    arrays = {key: store.read_all_arrays(track.name, key) for key in ok_keys}  # each job's file read once
    diagnostics = {key: groups.get("diagnostic", {}) for key, groups in arrays.items()}
    track.leaderboard_figures(chosen, results / "leaderboards" / track.name, diagnostics)
    hidden = set(track.figure_metrics)
    chosen = chosen[~chosen["metric"].isin(hidden)]
    metrics = {name: higher for name, higher in track.all_metrics.items() if name not in hidden}
    replicates = item_replicates(chosen, track, lambda key: arrays.get(key, {}).get("item", {}),
                                 n_replicates=n_replicates)
    preset = track.budget(budget).to_dict() if budget in track.budgets else None
    headline = [*track.headline_metrics, *COST_METRICS] if track.headline_metrics else ()
    return build_board(chosen, track=track.name, metrics=metrics, budget=budget, headline=headline,
                       replicates=replicates, strata=track.strata_item or "", preset=preset,
                       n_replicates=n_replicates, alpha=alpha, protocol=_protocols(track, chosen["dataset"]))


def _protocols(track: Any, datasets: Any) -> dict[str, str]:
    """Dataset -> how ``track`` splits it (:meth:`~harness.api.Track.protocol`), for datasets with a card."""
    from harness.cards import load_card
    from harness.errors import ParbenchError

    out = {}
    for name in sorted(set(datasets)):
        try:
            out[name] = track.protocol(load_card(name))
        except ParbenchError:  # a dataset without a card here (rows from a plugin's dataset): no line
            continue
    return out


def write_track_leaderboard(track: Any, results: Path, *, budget: str, n_replicates: int = 1000,
                            alpha: float = 0.05) -> Path:
    """Write the leaderboard of ``track`` under ``budget`` and return the Markdown path."""
    from harness.leaderboard import write_board

    board = track_board(track, results, budget=budget, n_replicates=n_replicates, alpha=alpha)
    out_dir = results / "leaderboards"
    figures = sorted(p.relative_to(out_dir).as_posix() for p in (out_dir / track.name).glob("*.png"))
    csv_path, md_path = write_board(board, out_dir, figures=figures)
    print(f"wrote {csv_path} and {md_path}", file=sys.stderr)
    return md_path


class Leaderboard(Subcommand):
    """Aggregate stored results of one budget into ranked tables."""

    name = "leaderboard"
    help = ("write results/leaderboards/<track>.csv and .md: mean and 95% interval per cell, rank tests, "
            "critical-difference diagram, paired comparisons")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("track", help="track name")
        parser.add_argument("--budget", default="default", help="budget whose results make the table")
        parser.add_argument("--print", action="store_true", help="also print the Markdown")
        parser.add_argument("--replicates", type=int, default=1000,
                            help="bootstrap replicates over test items per cell (default 1000)")
        parser.add_argument("--alpha", type=float, default=0.05,
                            help="level of the intervals and tests (default 0.05: 95%% intervals)")
        add_results(parser)

    def run(self, args: argparse.Namespace) -> int:
        """Write (and optionally print) the leaderboard."""
        from harness.registry import tracks

        track = tracks.get(args.track)()
        check_level(args.replicates, args.alpha)
        md_path = write_track_leaderboard(track, results_dir(args), budget=args.budget,
                                          n_replicates=args.replicates, alpha=args.alpha)
        if args.print:
            print(md_path.read_text())
        return 0
