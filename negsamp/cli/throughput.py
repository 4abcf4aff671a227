"""`negsamp throughput`: baseline vs method speed and memory, interleaved in one process."""

from __future__ import annotations

import argparse
from pathlib import Path

from negsamp.cli.backend_option import add_backend_option, add_vllm_throughput_options
from negsamp.models import DEVICE_HELP, DTYPE_HELP, DTYPES


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "throughput",
        help="measure prefill/decode speed, TTFT, TPOT, KV bytes and peak memory, method vs baseline",
        description=(
            "Run the uncompressed baseline and a method on the same model and synthetic prompts, "
            "interleaved after a warm-up, and report medians (with their spread) and the ratios "
            "method/baseline, which hold on a noisy machine. With --lengths, also the per-request "
            "time using each side's measured output lengths. Writes throughput.json, "
            "throughput.txt and throughput.png to --out."
        ),
    )
    parser.add_argument("--model", default="smollm2-135m-instruct",
                        help="smollm2-135m-instruct (bundled, default), a Hugging Face id, a local folder, or a "
                             "model config (.json, or a folder without weights): random weights, nothing downloaded")
    parser.add_argument("--method", required=True, metavar="SPEC",
                        help="method spec, e.g. streamingllm:ratio=0.5 (see `negsamp methods`)")
    parser.add_argument("--batch-sizes", default="1,4,16", metavar="LIST",
                        help="comma-separated batch sizes (default 1,4,16)")
    parser.add_argument("--prompt-len", type=int, default=512, help="prompt tokens per row (default 512)")
    parser.add_argument("--gen-len", type=int, default=32,
                        help="tokens generated per row, end-of-sequence ignored (default 32, at least 2)")
    parser.add_argument("--repeats", type=int, default=5, help="measured repeats per side (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="warm-up runs per side before measuring (default 1)")
    parser.add_argument("--lengths", type=Path, metavar="REPORT",
                        help="an evaluation report.json: adds end-to-end request times with its output lengths")
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    parser.add_argument("--dtype", default="auto", choices=["auto", *DTYPES], help=DTYPE_HELP)
    parser.add_argument("--question-len", type=int, default=None,
                        help="the last tokens of each prompt are its question: methods with compress=context "
                             "prefill them uncompressed, as evaluate does (default 32, at most prompt-len / 4)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for torch (default: torch's own; 1 is often steadier on a shared CPU)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic prompts (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--no-progress", action="store_true", help="no per-run progress lines")
    add_backend_option(parser, "offline batches, a served-load rate sweep and length replays "
                               "(--method none or vllm_kv:dtype=D)")
    add_vllm_throughput_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.backend == "vllm":
        from negsamp.cli.backend_option import throughput_command

        return throughput_command(args)
    from negsamp.throughput import format_table, measure_throughput, write_throughput

    report = measure_throughput(
        args.model, args.method, batch_sizes=args.batch_sizes, prompt_len=args.prompt_len,
        gen_len=args.gen_len, repeats=args.repeats, warmup=args.warmup, lengths_report=args.lengths,
        progress=not args.no_progress, seed=args.seed, device=args.device, dtype=args.dtype,
        threads=args.threads, question_len=args.question_len,
    )
    paths = write_throughput(report, args.out)
    print(format_table(report))
    print(f"wall time {report.wall_s:.1f} s; wrote {paths['json']}, {paths['table'].name}, {paths['plot'].name}")
    return 0
