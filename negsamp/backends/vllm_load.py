"""`throughput --backend vllm`: offline batches, served load and length replays on vLLM.

One worker process starts one engine per kv_cache_dtype (the baseline `auto`, plus the
method's quantized KV cache for `vllm_kv:dtype=D`) and runs every setting on each
engine in turn (interleaved per setting). Every request has the same seeded synthetic
prompt of `prompt_len` tokens; prefix caching is off, so each pays its own prefill.

- offline: `b` requests submitted at once, `gen_len` tokens each, end-of-sequence
  ignored (the engine's offline batch mode), for each batch size `b`;
- served: `requests` requests with Poisson arrivals (seeded exponential gaps) at each
  rate; the engine schedules them by continuous batching as they come. Rate `inf`
  means all at once. Reported per setting: output and total tok/s, TTFT, TPOT and
  latency (p50/p99, from each request's arrival) and the peak KV blocks in use;
- replay: with an evaluation report, one request per sample with the baseline's
  measured output length, then one with the method's, all at once; the two wall times
  are the end-to-end cost of each side's lengths (the paper's point: a method that
  makes outputs longer gives back what it saved). vLLM cannot run eviction methods,
  so a report of such a method is replayed on the baseline engine: the ratio is then
  the cost of the length change alone.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from negsamp.backends.vllm import VllmRequest, parse_vllm_method, run_worker, save_tokenizer, worker_python
from negsamp.backends.vllm_load_report import (
    Percentiles,
    ReplayLengths,
    SettingResult,
    VllmThroughputReport,
)
from negsamp.errors import InputError


def parse_rates(text: str) -> list[float]:
    """`"0.5,1,inf"` -> [0.5, 1.0, inf]; InputError naming the bad item."""
    rates = []
    for item in (p.strip() for p in text.split(",") if p.strip()):
        try:
            value = float(item)
        except ValueError:
            raise InputError(f"--rates: {item!r} is not a number (expected e.g. 0.5,1,inf)") from None
        if not value > 0:
            raise InputError(f"--rates: {item!r} must be > 0 (use inf for all at once)")
        rates.append(value)
    return rates


def settings_for(batch_sizes: list[int], rates: list[float], requests: int, gen_len: int,
                 replay: ReplayLengths | None, seed: int) -> list[dict]:
    """Every setting's name, output tokens per request and arrival offsets (seconds)."""
    settings = [{"name": f"offline b={b}", "kind": "offline", "rate": None, "output_tokens": [gen_len] * b,
                 "arrivals": [0.0] * b} for b in batch_sizes]
    rng = random.Random(seed)
    for rate in rates:
        clock, arrivals = 0.0, []
        for _ in range(requests):
            arrivals.append(clock)
            clock += 0.0 if rate == float("inf") else rng.expovariate(rate)
        settings.append({"name": f"served {rate:g} req/s", "kind": "served",
                         "rate": None if rate == float("inf") else rate,
                         "output_tokens": [gen_len] * requests, "arrivals": arrivals})
    if replay is not None:
        for side, lengths in (("baseline", replay.baseline_output_tokens), ("method", replay.method_output_tokens)):
            lengths = [max(1, n) for n in lengths]
            settings.append({"name": f"replay {side} lengths", "kind": "replay", "rate": None,
                             "output_tokens": lengths, "arrivals": [0.0] * len(lengths)})
    return settings


def _result(run: dict, setting: dict, prompt_len: int, cache: dict) -> SettingResult:
    reqs = run["requests"]
    out_tokens = sum(r["output_tokens"] for r in reqs)
    wall = run["wall_s"] - min(setting["arrivals"])
    return SettingResult(
        setting=setting["name"], kind=setting["kind"], kv_cache_dtype=run["kv_cache_dtype"], rate=setting["rate"],
        requests=len(reqs), prompt_tokens=prompt_len, output_tokens=out_tokens, wall_s=wall,
        output_tok_s=out_tokens / wall, total_tok_s=(out_tokens + prompt_len * len(reqs)) / wall,
        ttft_s=Percentiles.of([r["ttft_s"] for r in reqs]), tpot_s=Percentiles.of([r["tpot_s"] for r in reqs]),
        latency_s=Percentiles.of([r["latency_s"] for r in reqs]), peak_kv_blocks=run["peak_kv_blocks"],
        kv_blocks_total=cache["num_blocks"], kv_bytes_per_block=cache["bytes_per_block"],
    )


def measure_vllm_throughput(model_name: str, method_spec: str, out_dir: Path, *, batch_sizes: list[int],
                            rates: list[float], requests: int = 16, prompt_len: int = 512, gen_len: int = 32,
                            replay: ReplayLengths | None = None, seed: int = 0,
                            progress: bool = True) -> VllmThroughputReport:
    """Run every setting on the baseline engine (and the method's quantized-KV engine); see the module doc.

    `replay`: both sides' per-sample output lengths (`negsamp.throughput.lengths.read_replay`)."""
    from negsamp.backends.vllm_generate import vllm_version
    from negsamp.models import load_tokenizer, resolve

    start = time.perf_counter()
    spec, kv_dtype = parse_vllm_method(method_spec)
    worker_python()
    if prompt_len < 1 or gen_len < 2 or requests < 1:
        raise InputError("--prompt-len must be >= 1, --gen-len >= 2 and --requests >= 1")
    settings = settings_for(batch_sizes, rates, requests, gen_len, replay, seed)
    dtypes = ["auto"] + ([kv_dtype] if kv_dtype != "auto" else [])
    longest = max(n for s in settings for n in s["output_tokens"])
    tokenizer = load_tokenizer(model_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_name = {s["name"]: s for s in settings}
    results = []
    for dtype in dtypes:
        # One worker (one engine) per kv_cache_dtype, one after the other: engines in one
        # process would share vLLM's global metrics registry (the KV usage gauge).
        request = VllmRequest(
            mode="load", model_name=model_name, model_path=resolve(model_name), kv_cache_dtype=dtype,
            tokenizer_path=str(save_tokenizer(tokenizer, out_dir / "vllm_tokenizer", resolve(model_name))), prompt_len=prompt_len,
            special_ids=sorted(int(i) for i in tokenizer.all_special_ids), settings=settings,
            max_model_len=prompt_len + longest + 16, max_num_seqs=max(max(batch_sizes, default=1), requests, 64),
            seed=seed, result_path=str(out_dir / f"vllm_load_{dtype}.json"),
        )
        raw = run_worker(request, out_dir / f"vllm_load_{dtype}_request.json", progress=progress,
                         desc=f"vllm kv {dtype}")
        results += [_result(run, by_name[run["setting"]], prompt_len, raw["cache"]) for run in raw["runs"]]
    notes = ["one engine per kv_cache_dtype, one after the other, each after one untimed warm-up request",
             "served load: Poisson arrivals (seeded), continuous batching, prefix caching off; "
             "offline and replay: all requests submitted at once"]
    if replay is not None and replay.method != spec:
        notes.append(f"the replayed report's method {replay.method!r} is not run by vLLM: its lengths are "
                     "replayed on each engine here, so the replay ratio is the cost of the length change alone")
    return VllmThroughputReport(model=model_name, method=spec, engine=vllm_version(), dtype="float32",
                                kv_cache_dtypes=dtypes, prompt_len=prompt_len, gen_len=gen_len, results=results,
                                replay=replay, notes=notes, wall_s=time.perf_counter() - start)


def write_vllm_throughput(report: VllmThroughputReport, out_dir: Path) -> dict[str, Path]:
    """vllm_throughput.json and vllm_throughput.txt (the table) in `out_dir`."""
    from negsamp.atomic import atomic_write_text
    from negsamp.backends.vllm_load_report import format_vllm_table

    paths = {"json": out_dir / "vllm_throughput.json", "table": out_dir / "vllm_throughput.txt"}
    atomic_write_text(paths["json"], report.model_dump_json(indent=1) + "\n")
    atomic_write_text(paths["table"], format_vllm_table(report) + "\n")
    return paths


def load_vllm_throughput(path: Path) -> VllmThroughputReport:
    return VllmThroughputReport.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
