"""`negsamp run`: generate predictions for samples with one model and one or more methods."""

from __future__ import annotations

import argparse
from pathlib import Path

from negsamp.cli.backend_option import add_backend_option
from negsamp.cli.ray_option import add_ray_argument, ray_options
from negsamp.models import DEVICE_HELP, DTYPE_HELP, DTYPES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a model with a method over tasks into a resumable run store",
        description=(
            "Generate one prediction per (sample, model, method) into the run store RUNS_DIR. "
            "A killed run restarts where it stopped; re-running a finished run does nothing. "
            "Every spec is checked before the model is loaded."
        ),
    )
    parser.add_argument("--model", default="smollm2-135m-instruct",
                        help="smollm2-135m-instruct (bundled, default), a Hugging Face id or a local folder")
    parser.add_argument("--method", action="append", required=True, dest="methods", metavar="SPEC",
                        help="method spec, e.g. none, snapkv:ratio=0.5 (repeat for several; "
                             "see `negsamp methods`)")
    parser.add_argument("--tasks", nargs="+", required=True, metavar="SPEC",
                        help="task-source specs, e.g. passkey:lengths=1000,count=10 "
                             "longbench:qasper:path=FILE.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="run store folder")
    parser.add_argument("--batch-size", type=int, default=4, help="samples generated together (default 4)")
    parser.add_argument("--max-length", type=int, default=4096,
                        help="truncate prompts in the middle to this many tokens (default 4096)")
    add_ray_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--dtype", default="auto", choices=["auto", *DTYPES], help=DTYPE_HELP)
    add_backend_option(parser, "generate (methods none and vllm_kv:dtype=D only)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from negsamp.errors import InputError
    from negsamp.methods import parse_method
    from negsamp.tasks.sources import load_task_samples, validate_task_spec

    if args.backend == "vllm":
        from negsamp.cli.backend_option import run_command

        return run_command(args)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {args.batch_size}")
    methods = [parse_method(spec) for spec in args.methods]
    for spec in args.tasks:
        validate_task_spec(spec, max_length=args.max_length)
    ray = ray_options(args)

    from negsamp.models import load_tokenizer
    from negsamp.runner import ModelPool, run_method
    from negsamp.runs import RunStore

    # A missing GPU fails here, first; with --ray the device is the workers' (checked against the cluster).
    pool = None if ray else ModelPool(args.model, device=args.device, dtype=args.dtype)
    tokenizer = load_tokenizer(args.model)
    samples = []
    for spec in args.tasks:
        samples.extend(load_task_samples(spec, tokenizer=tokenizer, max_length=args.max_length))
    store = RunStore(args.out)
    if ray is not None:
        from negsamp.distributed import run_methods_on_ray

        runs = run_methods_on_ray(store, args.model, methods, samples, batch_size=args.batch_size,
                                  device=args.device, dtype=args.dtype, options=ray, progress=not args.no_progress)
        results = [runs[m.spec].result for m in methods]
    else:
        results = (run_method(store, args.model, method, samples, batch_size=args.batch_size,
                              progress=not args.no_progress, pool=pool) for method in methods)
    for method, result in zip(methods, results):
        done = len(result.predictions) - result.generated
        print(f"{method.spec}: {result.generated} generated, {done} already done -> "
              f"{result.run.predictions_path}")
    return 0
