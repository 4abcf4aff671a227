"""`negsamp mine`: apply the negative-sample rule to any score table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from negsamp.atomic import atomic_write
from negsamp.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mine",
        help="find negative samples in a score table",
        description=(
            "Apply the paper's negative-sample rule to a long score table (columns task, sample_id, "
            "method, score; .parquet or .jsonl). Per task, a sample is baseline-good iff its baseline "
            "score b >= THR (median or mean of the task's baseline scores), and negative for a method "
            "iff also not (b * (1 - t) < o) in float64. Writes the negatives (or, with --sweep, the "
            "count table) and prints per-task counts."
        ),
    )
    parser.add_argument("scores", type=Path, help="score table (.parquet or .jsonl)")
    parser.add_argument("--methods", required=True,
                        help="compared methods, comma-separated, as in the table's method column or as "
                             "method specs (streamingllm:ratio=0.5,kivi:bits=2 finds their canonical specs)")
    parser.add_argument("--baseline", default=None,
                        help="baseline method name in the table's method column (default: none, as runs name it)")
    parser.add_argument("-t", type=float, default=0.10, help="relative drop as a fraction (default: 0.10)")
    parser.add_argument("--statistic", choices=["median", "mean"], default="median", help="THR statistic")
    parser.add_argument(
        "--mode",
        choices=["all", "any"],
        default="all",
        help="all: negative for every method (intersection, default); any: for at least one (union)",
    )
    parser.add_argument(
        "--min-baseline",
        type=float,
        default=None,
        help="also require baseline score >= this (default: off, as the paper)",
    )
    parser.add_argument(
        "--sweep",
        default=None,
        help="comma-separated t values (fractions); write counts per t and task instead of the negatives",
    )
    parser.add_argument("-o", "--out", type=Path, required=True, help="output .parquet (or .jsonl) file")
    parser.set_defaults(func=run)


def read_score_table(path: Path):
    """Read a long score table from .parquet or .jsonl."""
    import polars as pl

    if not path.exists():
        raise InputError(f"score table {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pl.read_ndjson(path)
    except (pl.exceptions.PolarsError, OSError) as err:
        raise InputError(f"score table {str(path)!r}: cannot read it ({err})") from err
    raise InputError(f"score table {str(path)!r}: expected a .parquet or .jsonl file")


def write_table(frame, path: Path) -> Path:
    """Write `frame` to .parquet or .jsonl atomically."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return atomic_write(path, frame.write_parquet)
    if suffix in (".jsonl", ".ndjson"):
        return atomic_write(path, frame.write_ndjson)
    raise InputError(f"output {str(path)!r}: expected a .parquet or .jsonl file name")


def _parse_list(text: str, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"{what} is empty")
    return items


def split_methods(text: str) -> list[str]:
    """`a:x=1,y=2,b` -> [`a:x=1,y=2`, `b`]: an item `key=value` without a `:` continues the spec before it."""
    specs: list[str] = []
    for item in _parse_list(text, "--methods"):
        if "=" in item and ":" not in item and specs:
            specs[-1] += f",{item}"
        else:
            specs.append(item)
    return specs


def resolve_methods(given: list[str], present: set[str]) -> list[str]:
    """Match each given method to the table: as written, or as the canonical spec it parses to
    (run stores name methods by canonical spec, so `streamingllm:ratio=0.5` finds its full spec)."""
    from negsamp.errors import NegsampError
    from negsamp.methods import parse_method

    resolved = []
    for name in given:
        if name not in present:
            try:
                canonical = parse_method(name).spec
            except NegsampError:
                canonical = name  # not a method spec (e.g. the paper's file labels): the miner names it
            name = canonical if canonical in present else name
        resolved.append(name)
    return resolved


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from negsamp import mining
    from negsamp.display import short_names

    baseline = args.baseline or mining.BASELINE
    if args.out.suffix.lower() not in (".parquet", ".jsonl", ".ndjson"):
        raise InputError(f"output {str(args.out)!r}: expected a .parquet or .jsonl file name")
    scores = read_score_table(args.scores)
    present = set(scores.get_column("method").cast(pl.String).unique()) if "method" in scores.columns else set()
    methods = resolve_methods(split_methods(args.methods), present)

    if args.sweep is not None:
        return _run_sweep(args, scores, methods, baseline)

    rule = mining.make_rule(
        baseline=baseline,
        t=args.t,
        statistic=args.statistic,
        mode=args.mode,
        min_baseline=args.min_baseline,
    )
    result = mining.mine(scores, methods, rule)
    for note in result.warnings:
        print(f"warning: {note}", file=sys.stderr)
    counts = result.counts
    totals = counts.select(
        pl.lit("TOTAL").alias("task"),
        pl.lit(None, dtype=pl.Float64).alias("threshold"),
        pl.col("n", "n_good", "negatives").sum(),
    )
    print(
        f"rule: {rule.statistic} threshold, t={rule.t:g}, mode={rule.mode}, "
        f"min_baseline={rule.min_baseline}, baseline={rule.baseline!r}, "
        f"methods={', '.join(short_names(methods).values())}"
    )
    _print_frame(pl.concat([counts, totals]))
    write_table(result.negatives, args.out)
    print(f"wrote {args.out} ({result.negatives.height} negative samples)")
    return 0


def _run_sweep(args: argparse.Namespace, scores, methods: list[str], baseline: str) -> int:
    import polars as pl

    from negsamp import mining

    try:
        ts = [float(v) for v in _parse_list(args.sweep, "--sweep")]
    except ValueError as err:
        raise InputError(f"--sweep must be comma-separated numbers, got {args.sweep!r}") from err
    label = ("+" if args.mode == "all" else "|").join(methods)
    sweep = mining.count_sweep(
        scores,
        {label: methods},
        ts,
        [args.statistic],
        baseline=baseline,
        mode=args.mode,
        min_baseline=args.min_baseline,
    )
    for note in mining.sweep_warnings(sweep, args.min_baseline):
        print(f"warning: {note}", file=sys.stderr)
    table = (
        sweep.with_columns(pl.format("t={}", pl.col("t")).alias("t_label"))
        .pivot(on="t_label", index="task", values="count", aggregate_function=None)
        .sort("task")
    )
    totals = table.select(pl.lit("TOTAL").alias("task"), pl.exclude("task").sum())
    _print_frame(pl.concat([table, totals]))
    write_table(sweep, args.out)
    print(f"wrote {args.out} ({sweep.height} rows)")
    return 0


def _print_frame(frame) -> None:
    import polars as pl

    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(frame)
