"""The ``parbench`` command: list, run, leaderboard, check, report.

``main`` only parses; each subcommand lives in its own module behind :class:`Subcommand` and
returns an exit code. Errors meant for the user (:class:`~harness.errors.ParbenchError`) print
one line, ``parbench: error: ...``, and exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.cli._base import Subcommand
from harness.cli.check import Check
from harness.cli.leaderboard import Leaderboard
from harness.cli.listing import List
from harness.cli.report import Report
from harness.cli.run import Run
from harness.errors import ParbenchError

__all__ = ["build_parser", "main"]

SUBCOMMANDS: tuple[type[Subcommand], ...] = (List, Run, Leaderboard, Check, Report)

EPILOG = """quick start:
  parbench list tracks                  what can be run
  parbench run anomaly --budget smoke   run a small grid on the embedded default data
  parbench leaderboard anomaly --budget smoke
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="parbench",
        description="Run methods against the baselines of their field under one identical budget.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ParbenchError as exc:
        print(f"parbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parbench: interrupted; every finished job is stored, rerun to resume.", file=sys.stderr)
        return 130
