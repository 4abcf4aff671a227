"""`--backend hf|vllm` for `run`, `build` and `throughput`, and what `vllm` does there.

Kept out of those commands' modules so that each gets one option and one dispatch line.
Cheap to import: the vLLM modules are imported inside the functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

BACKENDS = ("hf", "vllm")


def add_backend_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--backend", choices=BACKENDS, default="hf",
        help=f"hf: transformers in this environment (default); vllm: {what} with vLLM, run in its own "
             "environment .venv-vllm (create it with `make vllm`)",
    )


def add_vllm_throughput_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("with --backend vllm")
    group.add_argument("--rates", default="1,2,inf", metavar="LIST",
                       help="served-load request rates in req/s, Poisson arrivals; inf = all at once "
                            "(default 1,2,inf; empty: no served load)")
    group.add_argument("--requests", type=int, default=16, help="requests per served-load rate (default 16)")


def run_command(args: argparse.Namespace) -> int:
    """`negsamp run --backend vllm`: methods `none` or `vllm_kv:dtype=D`, into the run store."""
    from negsamp.backends.vllm import parse_vllm_method, worker_python
    from negsamp.backends.vllm_generate import run_method_vllm
    from negsamp.models import load_tokenizer
    from negsamp.runs import RunStore
    from negsamp.tasks.sources import load_task_samples, validate_task_spec

    specs = [parse_vllm_method(spec)[0] for spec in args.methods]
    for spec in args.tasks:
        validate_task_spec(spec)
    worker_python()
    tokenizer = load_tokenizer(args.model)
    samples = []
    for spec in args.tasks:
        samples.extend(load_task_samples(spec, tokenizer=tokenizer, max_length=args.max_length))
    store = RunStore(args.out)
    for spec in specs:
        result = run_method_vllm(store, args.model, spec, samples, progress=not args.no_progress,
                                 tokenizer=tokenizer)
        done = len(result.predictions) - result.generated
        print(f"{spec} (vllm): {result.generated} generated, {done} already done -> {result.run.predictions_path}")
    return 0


def throughput_command(args: argparse.Namespace) -> int:
    """`negsamp throughput --backend vllm`: offline batches, served-load sweep, length replay."""
    from negsamp.backends.vllm import worker_python
    from negsamp.backends.vllm_load import measure_vllm_throughput, parse_rates, write_vllm_throughput
    from negsamp.backends.vllm_load_report import format_vllm_table
    from negsamp.throughput import parse_batch_sizes
    from negsamp.throughput.lengths import read_replay

    worker_python()
    replay = read_replay(Path(args.lengths)) if args.lengths is not None else None
    report = measure_vllm_throughput(
        args.model, args.method, Path(args.out), batch_sizes=parse_batch_sizes(args.batch_sizes),
        rates=parse_rates(args.rates), requests=args.requests, prompt_len=args.prompt_len, gen_len=args.gen_len,
        replay=replay, seed=args.seed, progress=not args.no_progress,
    )
    paths = write_vllm_throughput(report, Path(args.out))
    print(format_vllm_table(report))
    print(f"wall time {report.wall_s:.1f} s; wrote {paths['json']}, {paths['table'].name}")
    return 0
