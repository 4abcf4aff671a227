"""`negsamp runs check|repair`: inspect and fix a run store."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "runs", help="check a run store for duplicate, torn or foreign rows, and repair it",
        description="A run store is written by `negsamp run`, `build` and `evaluate`. `check` lists, per run, "
                    "torn last lines, unreadable lines, rows of another model or method and duplicate samples "
                    "(exit status 1 if any). `repair` keeps the first valid row of each sample and rewrites "
                    "the file atomically, holding the run's lock; dropped samples are generated again by the "
                    "next run.",
    )
    commands = parser.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    for name, func, text in (("check", run_check, "report problems; change nothing"),
                             ("repair", run_repair, "keep the first valid row per sample, rewrite atomically")):
        sub = commands.add_parser(name, help=text, description=text)
        sub.add_argument("store", type=Path, metavar="RUNS_DIR", help="run store folder")
        sub.set_defaults(func=func)


def run_check(args: argparse.Namespace) -> int:
    from negsamp.runcheck import check_store

    results = check_store(args.store)
    for health in results:
        print(health.summary())
    bad = sum(not h.healthy for h in results)
    print(f"{len(results)} run(s), {bad} with problems" + ("; run `negsamp runs repair`" if bad else ""))
    return 1 if bad else 0


def run_repair(args: argparse.Namespace) -> int:
    from negsamp.runcheck import repair_store

    results = repair_store(args.store)
    for health in results:
        if not health.healthy:
            print(f"repaired {health.run.directory.name}: kept {health.rows} rows")
    print(f"{len(results)} run(s), {sum(not h.healthy for h in results)} repaired")
    return 0
