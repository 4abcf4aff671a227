"""`negsamp evaluate`: the Negative Sample Evaluator."""

from __future__ import annotations

import argparse
from pathlib import Path

from negsamp.models import DEVICE_HELP, DTYPE_HELP, DTYPES

EVALUATE_OUTPUTS = ("report.json", "report.md", "figures", "runs")
"""What `negsamp evaluate` writes at the top of --out (`negsamp.report.write_report`, the run store)."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a method on a negative-sample dataset (recovery, control retention, KV, lengths)",
        description=(
            "Evaluate a KV-cache compression method on a negative-sample dataset: run it with "
            "--method over the dataset's negative and control samples (same prompts, model and "
            "generation settings), or score --predictions made elsewhere. Writes report.json, "
            "report.md and figures to --out."
        ),
    )
    parser.add_argument("--dataset", required=True, help="dataset folder or Hub repo id (ORG/NAME)")
    parser.add_argument("--config", help="dataset config (model); needed when the dataset has several")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--method", metavar="SPEC", help="method spec to run (see `negsamp methods`)")
    source.add_argument("--predictions", type=Path, metavar="FILE",
                        help="JSONL of {sample_id, prediction[, output_tokens]} made elsewhere")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder for the report; must be empty or new (an interrupted "
                             "evaluation's folder is resumed)")
    parser.add_argument("--overwrite", action="store_true",
                        help="clear a --out folder that holds an earlier evaluation first")
    parser.add_argument("--model", help="model to run (default: the dataset's)")
    parser.add_argument("--allow-model-mismatch", action="store_true",
                        help="allow a model other than the dataset's (the report says so)")
    parser.add_argument("--batch-size", type=int, help="default: the dataset build's")
    parser.add_argument("--submission", type=Path, metavar="FILE",
                        help="also write a leaderboard submission file")
    parser.add_argument("--name", help="display name for the submission (default: the method spec)")
    parser.add_argument("--paper-url", help="link to the method's paper or code, for the submission")
    parser.add_argument("--throughput", action="store_true",
                        help="also measure throughput of the method vs the baseline and attach it (a separate "
                             "timed run on synthetic prompts; the leaderboard shows its end-to-end ratio at the "
                             "smallest batch size, as the submitter's claim)")
    parser.add_argument("--throughput-batch-sizes", metavar="LIST",
                        help="batch sizes of the --throughput run (default 1,4; 1 for methods that do not "
                             "batch). The leaderboard needs only 1, which halves the run")
    parser.add_argument("--throughput-prompt-len", type=int, metavar="N",
                        help="prompt length of the --throughput run in tokens (default 512)")
    parser.add_argument("--throughput-repeats", type=int, metavar="N",
                        help="timed repeats per batch size and side of the --throughput run (default 3)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--dtype", default="auto", choices=["auto", *DTYPES], help=DTYPE_HELP)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.errors import InputError
    from negsamp.evaluator import evaluate_method, evaluate_predictions
    from negsamp.outdir import prepare_output_dir
    from negsamp.report import summary_lines, write_report

    if args.throughput and not args.method:
        raise InputError("--throughput needs --method: negsamp can only time a method it runs")
    throughput_options = _throughput_options(args)
    outputs = list(EVALUATE_OUTPUTS)
    if args.submission and args.submission.resolve().parent == args.out.resolve():
        outputs.append(args.submission.name)  # `make demo` keeps its submission beside the report
    prepare_output_dir(args.out, outputs=outputs, resumable={"runs"}, overwrite=args.overwrite)
    if args.method:
        report = evaluate_method(args.dataset, args.method, args.out, config=args.config, model=args.model,
                                 allow_model_mismatch=args.allow_model_mismatch,
                                 batch_size=args.batch_size, progress=not args.no_progress,
                                 device=args.device, dtype=args.dtype)
    else:
        report = evaluate_predictions(args.dataset, args.predictions, config=args.config, model=args.model,
                                      allow_model_mismatch=args.allow_model_mismatch)
    if args.throughput:
        from negsamp.throughput import measure_for_report

        attached = measure_for_report(report, progress=not args.no_progress, device=args.device, dtype=args.dtype,
                                      **throughput_options)
        report = report.model_copy(update={"throughput": attached})
    path = write_report(report, args.out)
    if args.submission:
        from negsamp.atomic import atomic_write_text
        from negsamp.submission import make_submission

        submission = make_submission(report, name=args.name, paper_url=args.paper_url)
        atomic_write_text(args.submission, submission.model_dump_json(indent=1) + "\n")
        print(f"submission: {args.submission}")
    print("\n".join(summary_lines(report)))
    print(f"report: {path} (and report.md, figures/)")
    return 0


def _throughput_options(args: argparse.Namespace) -> dict:
    """The --throughput-* options as `measure_for_report` keywords, checked before any model runs."""
    from negsamp.errors import InputError
    from negsamp.throughput import parse_batch_sizes

    given = [f"--{name}" for name in ("throughput-batch-sizes", "throughput-prompt-len", "throughput-repeats")
             if getattr(args, name.replace("-", "_")) is not None]
    if given and not args.throughput:
        raise InputError(f"{', '.join(given)} only apply with --throughput")
    for name in ("throughput_prompt_len", "throughput_repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    sizes = args.throughput_batch_sizes
    return {"batch_sizes": parse_batch_sizes(sizes) if sizes is not None else None,
            "prompt_len": args.throughput_prompt_len, "repeats": args.throughput_repeats}
