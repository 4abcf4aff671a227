"""`negsamp predict-length`: learn how a method changes output length, from run stores."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict-length",
        help="learn a method's output-length ratio to the baseline from run stores; held-out error",
        description=(
            "Pair every sample a method answered with the baseline's (method none) answer in the run "
            "stores, and learn log(method tokens / baseline tokens) from the task, the prompt tokens, "
            "the baseline's own length and end-of-sequence, and the method "
            "(gradient-boosted trees of depth 2, Huber loss). Prints the held-out error (K-fold "
            "grouped by sample) next to a constant per-method ratio. With --query (CSV: task, "
            "prompt_tokens, baseline_tokens, method[, baseline_eos, model]) writes the rows plus "
            "`ratio` and `output_tokens` to --out."
        ),
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUNS_DIR", help="run stores (negsamp run/build)")
    parser.add_argument("--query", type=Path, metavar="CSV", help="rows to predict")
    parser.add_argument("--out", type=Path, metavar="CSV", help="where to write the query rows plus predictions")
    parser.add_argument("--report", type=Path, metavar="JSON", help="also write the held-out errors as JSON")
    parser.add_argument("--folds", type=int, default=5, help="grouped folds for the held-out error (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.atomic import atomic_write_text
    from negsamp.errors import InputError
    from negsamp.predict.length import (
        fit_length,
        format_length_errors,
        heldout_length_errors,
        read_run_stores,
    )
    from negsamp.predict.length_query import read_length_query, write_length_predictions

    if (args.query is None) != (args.out is None):
        raise InputError("--query and --out go together")
    if args.folds < 2:
        raise InputError(f"--folds must be at least 2, got {args.folds}")
    rows = read_run_stores(args.runs)
    errors = heldout_length_errors(rows, folds=args.folds)
    print(format_length_errors(errors))
    if args.report:
        atomic_write_text(args.report, errors.model_dump_json(indent=1) + "\n")
    if args.query:
        queries = read_length_query(args.query)
        ratios = fit_length(rows).ratio(queries)
        write_length_predictions(args.out, queries, ratios)
        print(f"wrote {len(queries)} predictions to {args.out}")
    return 0
