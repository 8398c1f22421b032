"""``parbench list``: tracks, methods, datasets and budgets, without importing any model code."""

from __future__ import annotations

import argparse

from harness.cli._base import Subcommand

__all__ = ["List", "tracks_table"]

WHAT = ("tracks", "methods", "datasets", "budgets")


def tracks_table() -> str:
    """The Markdown table of the registered tracks (the README's track table is this table, tested)."""
    from tabulate import tabulate

    from harness.registry import tracks

    rows = []
    for name in tracks.names():
        entry = tracks.meta(name).get("entry")
        if entry is None:  # a plugin track: only its target is known without importing it
            rows.append([f"`{name}`", tracks.target(name), "", ""])
            continue
        session = f"`nox -s bench-{name}`" if entry.bench else ""
        rows.append([f"`{name}`", entry.task, entry.default_data, session])
    return tabulate(rows, headers=["track", "task", "embedded default data", "leaderboard"], tablefmt="github")


class List(Subcommand):
    """Print what is registered."""

    name = "list"
    help = "list tracks, methods, datasets or a track's budgets"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""
        parser.add_argument("what", nargs="?", choices=WHAT, default="tracks", help="what to list")
        parser.add_argument("--track", default=None, help="only this track's methods, datasets or budgets")

    def run(self, args: argparse.Namespace) -> int:
        """Print one table."""
        from tabulate import tabulate

        from harness.cards import card_names, load_card
        from harness.registry import methods, methods_of, tracks

        if args.what == "tracks":
            print(tracks_table())
            return 0
        elif args.what == "methods":
            names = methods_of(args.track) if args.track else methods.names()
            rows = [
                [n, methods.meta(n).get("track", "?"), methods.meta(n).get("kind", "?"), methods.target(n),
                 methods.meta(n).get("config") or ""]
                for n in names
            ]
            headers = ["method", "track", "kind", "target", "config"]
        elif args.what == "datasets":
            cards = [load_card(n) for n in card_names()]
            rows = [
                [c.name, c.track, "synthetic" if c.synthetic else "real", c.title, c.license]
                for c in cards
                if args.track in (None, c.track)
            ]
            headers = ["dataset", "track", "kind", "title", "license"]
        else:
            names = [args.track] if args.track else tracks.names()
            rows = []
            for name in names:
                track = tracks.get(name)
                for preset, values in track.budgets.items():
                    budget = track().budget(preset)
                    rows.append([name, preset, budget.hash(), ", ".join(f"{k}={v}" for k, v in values.items())])
            headers = ["track", "budget", "hash", "preset values"]
            if args.track:  # and what each field means, with its rule
                print(tabulate(rows, headers=headers, tablefmt="github"))
                print()
                rows, headers = tracks.get(args.track).budget_cls.describe(), ["field", "default", "meaning (rule)"]
        print(tabulate(rows, headers=headers, tablefmt="github"))
        return 0
