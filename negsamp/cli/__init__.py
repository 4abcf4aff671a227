"""The `negsamp` command line: a thin layer over the library.

Each sub-command lives in its own module under `negsamp.cli` and exposes
`register(subparsers)`, which adds its parser and sets `func` to a callable
taking the parsed arguments. Modules must stay cheap to import (heavy imports
such as torch go inside the command function), so `negsamp --help` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from negsamp import __version__
from negsamp.errors import NegsampError

# One entry per sub-command module, in the order `--help` lists them.
COMMAND_MODULES = [
    "score",
    "mine",
    "reproduce",
    "import_scores",
    "run",
    "runs",
    "build",
    "publish",
    "evaluate",
    "throughput",
    "predict_throughput",
    "predict_length",
    "plan",
    "leaderboard",
    "methods",
]

RESUMABLE = "run the same command again to resume: finished samples are kept"
RESUME_HINTS = {"run": RESUMABLE, "build": RESUMABLE, "evaluate": RESUMABLE}
"""What an interrupted command tells the user; commands that write through a run store resume."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="negsamp",
        description="Find, publish and evaluate the samples that KV-cache compression breaks.",
    )
    parser.add_argument("--version", action="version", version=f"negsamp {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"negsamp.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args) or 0
    except NegsampError as err:
        print(f"negsamp {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # One line instead of a traceback through torch; 130 = 128 + SIGINT, as shells report it.
        hint = RESUME_HINTS.get(args.command, "no file was left half-written")
        print(f"\nnegsamp {args.command}: interrupted; {hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
