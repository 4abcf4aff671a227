"""`negsamp score PREDICTIONS --out SCORES.parquet`: LongBench-compatible per-sample scores.

PREDICTIONS is either a run store (`negsamp run --out RUNS`, or a build's
`OUT/runs`), one run folder or its `predictions.jsonl`: the answers come from
the samples the store recorded; or a self-contained JSONL file, one object per
line with `sample_id` (str), `task` (str), `prediction` (str), `answers` (list
of str) and optionally `all_classes` (list of str or null; trec and lsht need
it). Other fields whose values are scalars (model, method, ...) are carried into
the output unchanged. The table feeds `negsamp mine`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from negsamp.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predictions per sample (LongBench v1 metrics)",
        description=(
            "Score each prediction with its task's LongBench v1 metric (values in [0, 1]) and write a "
            "parquet table with columns sample_id, task, prediction, answers, all_classes, the "
            "predictions' scalar fields (model, method, output_tokens, ...) and score; `negsamp mine` "
            "reads it. Input: a run store (`negsamp run --out RUNS`, a build's OUT/runs), a run folder "
            "or its predictions.jsonl; or a JSONL file with one object per line holding sample_id, "
            "task, prediction, answers (list of strings) and, for trec/lsht, all_classes."
        ),
    )
    parser.add_argument("predictions", type=Path, metavar="PREDICTIONS",
                        help="run store, run folder, or predictions JSONL")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="SCORES.parquet",
                        help="where to write the scores (written atomically)")
    parser.set_defaults(func=run)


def is_run_store_input(path: Path) -> bool:
    """Whether `path` is a run store, a run folder or a run's predictions.jsonl (not a plain JSONL)."""
    if path.is_dir():
        return True
    return path.name == "predictions.jsonl" and (path.parent / "manifest.json").is_file()


def write_parquet_atomic(df, output: Path) -> None:
    """Write `df` to `output` atomically; a filesystem error names the output file."""
    from negsamp.atomic import atomic_write

    try:
        atomic_write(output, df.write_parquet)
    except OSError as err:
        raise InputError(f"{output}: cannot write: {err.strerror or err}") from None


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from negsamp.scoring import read_prediction_file, run_store_records, score_records

    if is_run_store_input(args.predictions):
        records = run_store_records(args.predictions)
    else:
        records = read_prediction_file(args.predictions)
    df = score_records(records)
    write_parquet_atomic(df, args.out)
    keys = ["task", "method"] if "method" in df.columns else ["task"]
    summary = df.group_by(keys).agg(pl.len().alias("rows"), pl.col("score").mean().alias("mean")).sort(keys)
    print(f"scored {df.height} rows from {args.predictions} -> {args.out}")
    labels = [_label(row[: len(keys)]) for row in summary.iter_rows()]
    width = max(len(label) for label in labels)
    for label, (*_, rows, mean) in zip(labels, summary.iter_rows(), strict=True):
        print(f"  {label:<{width}}  rows={rows:<6} mean score={mean:.4f}")
    if "method" in df.columns:
        print(f"next: negsamp mine {args.out} --methods METHOD[,METHOD...] --out NEGATIVES.parquet")
    sys.stdout.flush()
    return 0


def _label(keys: tuple) -> str:
    from negsamp.display import short_method

    task, *method = keys
    return f"{task}  {short_method(str(method[0]))}" if method else task
