"""Base class of the subcommands and the options several of them share."""

from __future__ import annotations

import argparse
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from harness.cache import CACHE_ENV
from harness.cards import DATA_ENV
from harness.errors import ParbenchError

__all__ = ["RESULTS_ENV", "Subcommand", "add_cache", "add_data_root", "add_results", "comma_list", "results_dir"]

#: Environment variable naming the results folder.
RESULTS_ENV = "PARBENCH_RESULTS"


class Subcommand(ABC):
    """One subcommand: a name, a help line, its options and a ``run`` returning an exit code."""

    name: ClassVar[str]
    help: ClassVar[str]

    @classmethod
    def add_parser(cls, sub: Any) -> argparse.ArgumentParser:
        """Add this subcommand's parser to ``sub``."""
        parser = sub.add_parser(cls.name, help=cls.help, description=cls.help)
        cls.add_arguments(parser)
        parser.set_defaults(handler=cls().run)
        return parser

    @classmethod
    @abstractmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Declare the options."""

    @abstractmethod
    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit code."""


def comma_list(text: str) -> list[str]:
    """Split ``a,b,c`` into names, dropping blanks."""
    return [part.strip() for part in text.split(",") if part.strip()]


def int_list(text: str) -> list[int]:
    """Split ``0,1,2`` into integers."""
    try:
        return [int(part) for part in comma_list(text)]
    except ValueError as exc:
        msg = f"--seeds must be comma-separated integers like 0,1,2; got {text!r}."
        raise argparse.ArgumentTypeError(msg) from exc


def add_results(parser: argparse.ArgumentParser) -> None:
    """Add ``--results``."""
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"results folder (runs/, leaderboards/, reference/); default ${RESULTS_ENV} or ./results",
    )


def add_data_root(parser: argparse.ArgumentParser) -> None:
    """Add ``--data-root``."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"folder holding the datasets; default ${DATA_ENV} or ~/.cache/parbench/data",
    )


def add_cache(parser: argparse.ArgumentParser) -> None:
    """Add ``--cache``."""
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"folder of what tracks derive from a dataset (splits, sampled negatives, trained backbones), never the "
             f"dataset folder; default ${CACHE_ENV} or ~/.cache/parbench/derived",
    )


def results_dir(args: argparse.Namespace) -> Path:
    """Resolve ``--results`` / ``$PARBENCH_RESULTS`` / ``./results``."""
    if args.results is not None:
        return Path(args.results)
    return Path(os.environ.get(RESULTS_ENV, "results"))


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse ``--set key=value`` pairs; values are read as JSON when they parse, else as text."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            msg = f"--set takes key=value (e.g. --set time_limit_s=60); got {pair!r}."
            raise ParbenchError(msg)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
