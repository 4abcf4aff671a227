"""The transformers backend vs vLLM on the same 32 prompts (baseline `none`), side by side.

Both sides generate the baseline for the same pass-key and multi-key samples of the
bundled SmolLM2-135M-Instruct, greedy, float32, into fresh run stores, in one process
run: the transformers backend (`negsamp.runner.run_method`, batched) and vLLM
(`negsamp.backends.vllm_generate.run_method_vllm`, all prompts submitted at once,
continuous batching). Printed: each side's generation seconds (model load and engine
start excluded; each is also printed), their ratio, and how many of the predictions
are identical (the agreement count).

    .venv/bin/python benchmarks/bench_vllm.py               # 32 prompts of ~800 tokens
    .venv/bin/python benchmarks/bench_vllm.py --length 400 --batch-size 8
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def make_samples(model: str, n: int, length: int, seed: int):
    """`n` samples, half pass-key and half multi-key (the tiny-cpu recipe's families)."""
    from negsamp.models import load_tokenizer
    from negsamp.tasks.sources import load_task_samples

    tokenizer = load_tokenizer(model)
    half = n // 2
    specs = [f"passkey:lengths={length},count={n - half},seed={seed}",
             f"multikey:lengths={length},count={half},seed={seed}"]
    return tokenizer, [s for spec in specs for s in load_task_samples(spec, tokenizer=tokenizer, max_length=4096)]


def time_hf(model: str, samples, batch_size: int, root: Path):
    from negsamp.methods import parse_method
    from negsamp.runner import ModelPool, run_method
    from negsamp.runs import RunStore

    pool = ModelPool(model)
    start = time.perf_counter()
    pool.get(None)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    result = run_method(RunStore(root / "hf"), model, parse_method("none"), samples, batch_size=batch_size,
                        progress=False, pool=pool)
    return result.predictions, load_s, time.perf_counter() - start


def time_vllm(model: str, samples, tokenizer, root: Path):
    from negsamp.backends.vllm_generate import run_method_vllm
    from negsamp.runs import RunStore

    start = time.perf_counter()
    result = run_method_vllm(RunStore(root / "vllm"), model, "none", samples, progress=False, tokenizer=tokenizer)
    total_s = time.perf_counter() - start
    # The worker times its own generation (first request submitted to last finished),
    # which leaves out the process start, the import and the engine start.
    generate_s = json.loads((result.run.directory / "vllm_result.json").read_text())["wall_s"]
    return result.predictions, total_s - generate_s, generate_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--length", type=int, default=800, help="prompt tokens of each sample (default 800)")
    parser.add_argument("--batch-size", type=int, default=8, help="the transformers backend's batch (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from negsamp.backends.vllm import worker_python
    from negsamp.backends.vllm_agreement import compare
    from negsamp.backends.vllm_generate import vllm_version

    worker_python()
    tokenizer, samples = make_samples(args.model, args.samples, args.length, args.seed)
    print(f"{args.model}: {len(samples)} prompts of ~{args.length} tokens, greedy, float32; "
          f"transformers batch {args.batch_size}; {vllm_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        hf, hf_load, hf_s = time_hf(args.model, samples, args.batch_size, Path(tmp))
        vl, vl_start, vl_s = time_vllm(args.model, samples, tokenizer, Path(tmp))
    agreement = compare(args.model, vllm_version(), hf, vl)
    out_tokens = sum(p.output_tokens for p in hf), sum(p.output_tokens for p in vl)
    print(f"transformers: generation {hf_s:.1f} s ({out_tokens[0]} output tokens), model load {hf_load:.1f} s")
    print(f"vLLM:         generation {vl_s:.1f} s ({out_tokens[1]} output tokens), "
          f"process + engine start {vl_start:.1f} s")
    print(f"ratio transformers / vLLM generation time: {hf_s / vl_s:.2f}x")
    print(f"ratio including model load / engine start: {(hf_load + hf_s) / (vl_start + vl_s):.2f}x")
    print(f"agreement: {agreement.figure}; same output length {agreement.same_length}/{agreement.samples}")
    if agreement.differing:
        print(f"differing samples: {', '.join(agreement.differing)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
