"""`negsamp score PREDICTIONS.jsonl -o SCORES.parquet`: LongBench-compatible per-sample scores.

Each JSONL line is one object with `sample_id` (str), `task` (str), `prediction`
(str), `answers` (list of str) and optionally `all_classes` (list of str or
null; trec and lsht need it). Other fields whose values are scalars (model,
method, ...) are carried into the output unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from negsamp.errors import InputError, NegsampError, UnknownNameError

REQUIRED_FIELDS = ("sample_id", "task", "prediction", "answers")
OPTIONAL_FIELDS = ("all_classes",)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score predictions per sample (LongBench v1 metrics)",
        description=(
            "Score each prediction with its task's LongBench v1 metric (values in [0, 1]) and write a "
            "parquet table. Input: JSONL, one object per line with sample_id, task, prediction, "
            "answers (list of strings) and, for trec/lsht, all_classes."
        ),
    )
    parser.add_argument("predictions", type=Path, metavar="PREDICTIONS.jsonl", help="predictions to score")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="SCORES.parquet",
        help="where to write the scores (written atomically)",
    )
    parser.set_defaults(func=run)


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _is_string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def read_predictions(path: Path) -> list[dict]:
    """Parse and check a predictions JSONL file; every error names the file, line and field."""
    from negsamp.jsonl import iter_jsonl, read_bytes
    from negsamp.tasks import get_task

    records = []
    for lineno, record in iter_jsonl(path, read_bytes(path, "predictions file")):
        where = f"{path}, line {lineno}"
        if not isinstance(record, dict):
            raise InputError(f"{where}: expected a JSON object, got {_type_name(record)}")
        for field in REQUIRED_FIELDS:
            if field not in record:
                raise InputError(f"{where}: missing field {field!r}")
        for field in ("sample_id", "task", "prediction"):
            if not isinstance(record[field], str):
                raise InputError(
                    f"{where}: field {field!r} must be a string, got {_type_name(record[field])}"
                )
        if not _is_string_list(record["answers"]):
            raise InputError(
                f"{where}: field 'answers' must be a list of strings, got {_describe(record['answers'])}"
            )
        record.setdefault("all_classes", None)
        if record["all_classes"] is not None and not _is_string_list(record["all_classes"]):
            raise InputError(
                f"{where}: field 'all_classes' must be a list of strings or null, got {_describe(record['all_classes'])}"
            )
        try:
            get_task(record["task"])
        except UnknownNameError as err:
            raise InputError(f"{where}: field 'task': {err}") from None
        for field, value in record.items():
            if field not in REQUIRED_FIELDS + OPTIONAL_FIELDS and isinstance(value, dict | list):
                raise InputError(
                    f"{where}: extra field {field!r} must be a scalar to be carried over, got {_type_name(value)}"
                )
        if "score" in record:  # the computed column would silently replace the user's
            raise InputError(f"{where}: field 'score' is the column negsamp writes; rename yours")
        record["_line"] = lineno
        records.append(record)
    if not records:
        raise InputError(f"{path}: no predictions (the file has no JSON lines)")
    return records


def _describe(value) -> str:
    if isinstance(value, list):
        bad = next((item for item in value if not isinstance(item, str)), None)
        return f"a list holding {_type_name(bad)} {bad!r}"
    return _type_name(value)


def write_parquet_atomic(df, output: Path) -> None:
    """Write `df` to `output` atomically; a filesystem error names the output file."""
    from negsamp.atomic import atomic_write

    try:
        atomic_write(output, df.write_parquet)
    except OSError as err:
        raise InputError(f"{output}: cannot write: {err.strerror or err}") from None


def build_scores(records: list[dict], path: Path):
    import polars as pl

    from negsamp.metrics import score

    scores = []
    for record in records:
        try:
            scores.append(
                score(record["task"], record["prediction"], record["answers"], record["all_classes"])
            )
        except NegsampError as err:
            raise InputError(f"{path}, line {record['_line']}: {err}") from None
    columns = {
        "sample_id": pl.Series([r["sample_id"] for r in records], dtype=pl.String),
        "task": pl.Series([r["task"] for r in records], dtype=pl.String),
        "prediction": pl.Series([r["prediction"] for r in records], dtype=pl.String),
        "answers": pl.Series([r["answers"] for r in records], dtype=pl.List(pl.String)),
        "all_classes": pl.Series([r["all_classes"] for r in records], dtype=pl.List(pl.String)),
    }
    extras = [k for k in dict.fromkeys(k for r in records for k in r) if k not in columns and k != "_line"]
    for field in extras:
        values = [r.get(field) for r in records]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
            columns[field] = pl.Series(
                values, dtype=pl.Float64 if any(isinstance(v, float) for v in present) else pl.Int64
            )
            continue
        try:
            columns[field] = pl.Series(values, strict=True)
        except (TypeError, pl.exceptions.PolarsError):
            raise InputError(
                f"{path}: field {field!r} holds values of different types on different lines"
            ) from None
    columns["score"] = pl.Series(scores, dtype=pl.Float64)
    return pl.DataFrame(columns)


def run(args: argparse.Namespace) -> int:
    records = read_predictions(args.predictions)
    df = build_scores(records, args.predictions)
    write_parquet_atomic(df, args.output)
    import polars as pl

    summary = (
        df.group_by("task").agg(pl.len().alias("rows"), pl.col("score").mean().alias("mean")).sort("task")
    )
    print(f"scored {df.height} rows from {args.predictions} -> {args.output}")
    width = max(len(task) for task in summary.get_column("task"))
    for task, rows, mean in summary.iter_rows():
        print(f"  {task:<{width}}  rows={rows:<6} mean score={mean:.4f}")
    sys.stdout.flush()
    return 0
