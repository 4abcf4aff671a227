"""`negsamp leaderboard`: validate submissions, register releases, render the leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="validate and re-score leaderboard submissions; render the table, page and app data",
        description=(
            "The leaderboard folder holds releases.json (the dataset releases submissions may name), "
            "releases/ (their dataset folders) and submissions/*.json. Every figure is recomputed from "
            "the submitted predictions; claimed figures that disagree reject the submission."
        ),
    )
    commands = parser.add_subparsers(dest="leaderboard_command", metavar="ACTION", required=True)

    validate = commands.add_parser(
        "validate", help="check one submission file and print its recomputed figures",
        description="Check a submission: schema, release, model, one prediction per sample, and that every "
                    "claimed figure matches the figure recomputed from its predictions. Exit status 1 and one "
                    "line per problem (field: problem) when it is rejected.",
    )
    validate.add_argument("file", type=Path, metavar="FILE", help="submission JSON")
    validate.add_argument("--root", type=Path, default=Path("leaderboard"), help="leaderboard folder")
    validate.set_defaults(func=run_validate)

    build = commands.add_parser(
        "build", help="validate every submission and render README.md, site/index.html, site/leaderboard.json "
                      "and the charts",
        description="Validate every ROOT/submissions/*.json (rejected ones are listed with their reasons and "
                    "never rendered) and write ROOT/README.md, ROOT/site/index.html, "
                    "ROOT/site/leaderboard.json and ROOT/charts/*.png (one relative-score-vs-KV-kept chart per "
                    "release with submissions; charts of releases without any are removed).",
    )
    build.add_argument("--root", type=Path, default=Path("leaderboard"), help="leaderboard folder")
    build.add_argument("--check", action="store_true",
                       help="write nothing; exit 1 if a rendered file differs from the one on disk")
    build.add_argument("--strict", action="store_true", help="exit 1 if any submission is rejected")
    build.set_defaults(func=run_build)

    verify = commands.add_parser(
        "verify", help="re-run a submission's method on its release and record our measurements",
        description="Validate FILE, re-run its method spec here (built-in methods, and kvpress presses that "
                    "import) on its release with the release's model and batch size, and compare every "
                    "prediction's text and output_tokens exactly with the submitted ones (greedy decoding is "
                    "deterministic on one machine). KV bytes after prefill are measured by our run. Writes "
                    "ROOT/verified/<id>.json; exit status 1 when any prediction differs.",
    )
    verify.add_argument("file", type=Path, metavar="FILE", help="submission JSON under ROOT/submissions/")
    verify.add_argument("--root", type=Path, default=Path("leaderboard"), help="leaderboard folder")
    verify.add_argument("--no-progress", action="store_true", help="no progress bar")
    verify.set_defaults(func=run_verify)

    add = commands.add_parser(
        "add-release", help="copy a dataset folder into ROOT/releases/ and register it in releases.json",
        description="Verify a dataset folder, copy it to ROOT/releases/<name>-<version>/ and add it to "
                    "ROOT/releases.json. Prints the copied folder's path.",
    )
    add.add_argument("dataset", type=Path, metavar="DIR", help="dataset folder (as written by `negsamp build`)")
    add.add_argument("--config", help="config to rank (needed when the dataset has several)")
    add.add_argument("--root", type=Path, default=Path("leaderboard"), help="leaderboard folder")
    add.add_argument("--replace", action="store_true",
                     help="replace a registered release of the same name and version with other content")
    add.set_defaults(func=run_add_release)


def run_validate(args: argparse.Namespace) -> int:
    from negsamp.formats import num, pct
    from negsamp.leaderboard import Registry, SubmissionRejected, validate_submission

    registry = Registry.load(args.root)
    try:
        entry = validate_submission(args.file, registry)
    except SubmissionRejected as err:
        print(f"{args.file}: rejected", file=sys.stderr)
        for problem in err.problems:
            print(f"  {problem}", file=sys.stderr)
        if err.more:
            print(f"  and {err.more} more problem(s)", file=sys.stderr)
        return 1
    o = entry.overall
    print(f"{args.file}: valid ({entry.claims_checked} claimed figures match the recomputation)")
    print(f"  {entry.name} [{entry.method}] on {entry.release.label} [{entry.release.config}]")
    print(f"  negatives recovered: {o.recovered}/{o.negatives} ({pct(o.recovery_rate)})")
    print(f"  control retained:    {o.control_retained}/{o.control} ({pct(o.control_retention)})")
    print(f"  KV kept:             {pct(o.kv_kept)} (claimed; `negsamp leaderboard verify` measures it)")
    print(f"  output length ratio: {num(o.output_length_ratio)}")
    if entry.mined:
        print("  note: the release was mined with this method (not held out)")
    for warning in entry.warnings:
        print(f"  warning: {warning}")
    if entry.throughput_ratio is not None:
        print(f"  throughput ratio:    {num(entry.throughput_ratio)} (submitter's measurement)")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from negsamp.atomic import atomic_write_text
    from negsamp.formats import pct
    from negsamp.leaderboard import VERIFIED_DIR, Registry, verify_submission

    record = verify_submission(args.file, Registry.load(args.root), progress=not args.no_progress)
    out = args.root / VERIFIED_DIR / f"{args.file.stem}.json"
    atomic_write_text(out, record.model_dump_json(indent=2) + "\n")
    state = "verified" if record.verified else "NOT verified"
    print(f"{args.file}: {state}: {record.matching}/{record.samples} predictions identical "
          f"(text and output_tokens); KV kept measured here: {pct(record.kv_kept)}")
    if record.differing:
        print(f"  differing samples: {', '.join(record.differing)}")
    print(f"  wrote {out}")
    return 0 if record.verified else 1


def run_build(args: argparse.Namespace) -> int:
    from negsamp.leaderboard import build_leaderboard

    result = build_leaderboard(args.root, write=not args.check)
    print(f"{len(result.entries)} submission(s) accepted, {len(result.rejected)} rejected")
    for item in result.rejected:
        print(f"  rejected {item.file}: {item.reason[:500]}")
    if args.check:
        for rel in result.changed:
            print(f"  out of date: {args.root / rel}")
        if result.changed:
            print("run `negsamp leaderboard build` to regenerate", file=sys.stderr)
            return 1
    else:
        for rel in result.files:
            print(f"  {'wrote' if rel in result.changed else 'unchanged'} {args.root / rel}")
        for rel in [r for r in result.changed if r not in result.files]:
            print(f"  removed {args.root / rel} (its release has no chart any more)")
    if args.strict and result.rejected:
        return 1
    return 0


def run_add_release(args: argparse.Namespace) -> int:
    from negsamp.leaderboard import Registry, add_release

    release = add_release(args.root, args.dataset, config=args.config, replace=args.replace)
    print(Registry.load(args.root).folder(release))
    return 0
