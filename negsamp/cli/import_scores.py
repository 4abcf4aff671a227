"""`negsamp import-scores`: the paper's released per-sample scores -> a release in our layout."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-scores",
        help="turn the paper's released per-sample scores into a dataset release",
        description=(
            "Mine per-sample score files in the paper's format (<method>_<model>_<config>_<task>_eval.json, "
            "as in LLMkvsys/rethink-kv-compression) with the negative-sample rule, join the LongBench records "
            "they index, and write a dataset folder in negsamp's layout (one config named after the model, "
            "negative and control splits, card, manifest with a content hash). Rows carry the record, the "
            "baseline's score, every method's score and which methods broke it; no predictions (the paper "
            "released none); prompts follow protocol rethink."
        ),
    )
    parser.add_argument("scores_dir", type=Path, metavar="SCORES_DIR", help="folder of *_eval.json score files")
    parser.add_argument("--records", required=True, metavar="SRC",
                        help="THUDM/LongBench (the Hub) or a folder of <task>.jsonl in its schema, with an "
                             "optional INDEX.json giving each line's position in the test split")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--methods", required=True,
                        help="compared methods as <method>_<config>, comma-separated, e.g. "
                             "kivi_8192_b1_4bits_group32_residual128,gear_8192_b1_8bits")
    parser.add_argument("--baseline", default="hf_8192_b1", help="baseline as <method>_<config> (default: hf_8192_b1)")
    parser.add_argument("-t", type=float, default=0.10, help="relative drop as a fraction (default: 0.10)")
    parser.add_argument("--statistic", choices=["median", "mean"], default="median",
                        help="THR statistic (default: median; the paper's released dataset uses mean)")
    parser.add_argument("--mode", choices=["all", "any"], default="all",
                        help="all: negative for every method (intersection, default); any: for at least one")
    parser.add_argument("--min-baseline", type=float, default=None,
                        help="also require baseline score >= this (default: off, as the paper)")
    parser.add_argument("--skip-missing", action="store_true",
                        help="leave out records SRC lacks (the card counts them) instead of stopping")
    parser.add_argument("--model", default=None, help="model name in the file names (when the folder has several)")
    parser.add_argument("--control-per-task", type=int, default=5, help="control samples drawn per task (default: 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the control draw (default: 0)")
    parser.add_argument("--name", default="negsamp-paper", help="dataset name (default: negsamp-paper)")
    parser.add_argument("--dataset-version", default="0.1.0", help="dataset version (default: 0.1.0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.errors import InputError
    from negsamp.import_scores import import_scores

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.control_per_task < 0:
        raise InputError(f"--control-per-task must be >= 0, got {args.control_per_task}")
    result = import_scores(
        args.scores_dir, args.records, args.out, methods=methods, baseline=args.baseline,
        statistic=args.statistic, t=args.t, mode=args.mode, min_baseline=args.min_baseline,
        skip_missing=args.skip_missing, model=args.model, name=args.name, version=args.dataset_version,
        control_per_task=args.control_per_task, seed=args.seed,
    )
    skipped = sum(len(v) for v in result.skipped.values())
    print(f"config {result.config}: {result.rows['negative']} negative, {result.rows['control']} control rows"
          + (f", {skipped} record(s) skipped" if skipped else ""))
    print(f"wrote {args.out} (content hash {result.manifest.content_hash})")
    return 0
