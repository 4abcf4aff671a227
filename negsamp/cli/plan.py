"""`negsamp plan`: memory saved, the batch that fits, throughput there, length change, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="end-to-end estimate for a method: memory, batch that fits, throughput, length change",
        description=(
            "Combine the throughput predictor and the length predictor into the estimate the paper "
            "argues for: KV memory saved per sequence, the batch that then fits in the accelerator's "
            "memory, the throughput at the asked batch and at that batch, the expected output-length "
            "change, and the resulting requests per second against the baseline. Without --fit the "
            "throughput is the bare roofline at peak (an upper bound); without --runs the length "
            "ratio is --length-ratio (default 1). Measured figures are shown next to predicted ones "
            "where the fit data or run stores have them."
        ),
    )
    parser.add_argument("--model", required=True,
                        help="model shape: llama-2-7b, llama-3.1-8b, smollm2-135m-instruct, ... or a local folder")
    parser.add_argument("--method", required=True, metavar="SPEC",
                        help="method spec (kivi:bits=4, h2o:budget=512, ...) or a label of the fit data (KIVI-4)")
    parser.add_argument("--batch", type=int, required=True, help="sequences served together")
    parser.add_argument("--prompt-len", type=int, required=True, help="prompt tokens per request")
    parser.add_argument("--output-len", type=float,
                        help="baseline output tokens per request (default: the run stores' mean, else 256)")
    parser.add_argument("--fit", nargs="+", type=Path, metavar="FILE",
                        help="throughput measurements to fit (paper CSVs or throughput.json)")
    parser.add_argument("--runs", nargs="+", type=Path, metavar="RUNS_DIR",
                        help="run stores to learn the length ratio from")
    parser.add_argument("--length-ratio", type=float, help="method/baseline output length, instead of --runs")
    parser.add_argument("--hardware", default="a6000", help="a6000 (default), a100-80g, h100, h200, cpu")
    parser.add_argument("--memory-gb", type=float, help="memory budget for weights + KV in GB (default: the hardware's)")
    parser.add_argument("--max-batch", type=int, default=256, help="cap on the batch that fits (default 256)")
    parser.add_argument("--out", type=Path, metavar="JSON", help="also write the plan as JSON")
    parser.set_defaults(func=run)


def _length(args, prompt_len: int) -> tuple[float, str, float | None, float | None]:
    """(ratio, its source, measured ratio, baseline output tokens from the runs)."""
    from negsamp.predict.length import expected_ratio, fit_length, measured_ratio, read_run_stores

    if args.runs is None:
        ratio = 1.0 if args.length_ratio is None else args.length_ratio
        return ratio, "given" if args.length_ratio is not None else "assumed 1: no --runs", None, None
    rows = read_run_stores(args.runs)
    ratio = expected_ratio(fit_length(rows), rows, args.method, prompt_len)
    mean_base = sum({(r.model, r.sample_id): r.baseline_tokens for r in rows}.values()) / len(
        {(r.model, r.sample_id) for r in rows})
    return ratio, f"length predictor on {len(rows)} run-store rows", measured_ratio(rows, args.method), mean_base


def fit_label(method: str, points) -> str:
    """The fit data's label for `method`: as given, else its canonical spec (throughput.json stores that)."""
    labels = {p.method for p in points}
    if method in labels:
        return method
    from negsamp.errors import NegsampError
    from negsamp.methods import parse_method

    try:
        canonical = parse_method(method).spec
    except (NegsampError, ValueError):
        return method
    return canonical if canonical in labels else method


def run(args: argparse.Namespace) -> int:
    from negsamp.atomic import atomic_write_text
    from negsamp.errors import InputError
    from negsamp.predict.plan import format_plan, make_plan
    from negsamp.predict.points import read_points
    from negsamp.predict.roofline import hardware, model_shape
    from negsamp.predict.throughput import fit_throughput

    for name in ("batch", "prompt_len", "max_batch"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be at least 1")
    if args.runs is not None and args.length_ratio is not None:
        raise InputError("give --runs or --length-ratio, not both")
    shape, hw = model_shape(args.model), hardware(args.hardware)
    points = read_points(args.fit) if args.fit else []
    model = fit_throughput(points, shape, hw) if points else None
    ratio, source, measured, mean_base = _length(args, args.prompt_len)
    plan = make_plan(shape, hw, fit_label(args.method, points), args.batch, args.prompt_len,
                     output_tokens=args.output_len or mean_base or 256.0, length_ratio=ratio,
                     length_source=source, measured_length_ratio=measured, model=model, points=points,
                     memory_bytes=args.memory_gb * 1e9 if args.memory_gb else None, max_batch=args.max_batch)
    print(format_plan(plan))
    if args.out:
        atomic_write_text(args.out, plan.model_dump_json(indent=1) + "\n")
    return 0
