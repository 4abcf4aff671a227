"""The vLLM worker: run by `.venv-vllm/bin/python -P`, never imported by negsamp's environment.

vLLM pins a transformers release that kvpress cannot share, so it lives in its own
virtual environment (`make vllm`) and this file is its only entry point. It imports
nothing of negsamp (the `negsamp` package and kvpress are not installed there) and
only the standard library at module level, so the main environment's tests can import
it to check the request/answer plumbing without vLLM.

    python -P vllm_worker.py REQUEST.json

The request (written by `negsamp.backends.vllm_request`) names a `mode`:

- `generate`: greedy generation of token-id prompts; each finished request is appended
  to `predictions_path` as one `negsamp.records.Prediction` JSON line and fsync'ed at
  once, so a killed worker loses only the requests in flight (the run store resumes);
- `offline`: fixed batches of synthetic prompts, submitted together (the engine's
  offline batch mode); `served`: requests arriving at a Poisson rate (continuous
  batching); `replay`: one request per measured output length, all at once. These
  three write one JSON result to `result_path` (atomically);
- `probe`: which `kv_cache_dtypes` start an engine and generate (result to `result_path`).

Progress goes to stdout as `PROGRESS <done> <total>` lines; vLLM's logs go to stderr.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
import time
from pathlib import Path

REQUEST_VERSION = 1


def progress(done: int, total: int) -> None:
    print(f"PROGRESS {done} {total}", flush=True)


def atomic_json(path: str, data: object) -> None:
    """Write JSON to a temporary file beside `path`, fsync it, rename it into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=1) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def append_jsonl(path: str, rows: list[dict]) -> None:
    """Append rows and make them durable before returning (the run store's contract)."""
    if not rows:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        handle.flush()
        os.fsync(handle.fileno())


def make_engine(req: dict, kv_cache_dtype: str):
    """An offline `LLM` with prefix caching off (every request pays its own prefill)."""
    # The CPU backend sizes its KV cache from this variable (GiB), not from a memory
    # fraction; the GPU build ignores it and uses gpu_memory_utilization.
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(int(req.get("kv_cache_space_gib", 1))))
    # cache_facts sends a function to the engine's worker process; our own local processes only.
    os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")
    from vllm import LLM

    return LLM(
        model=req["model_path"], tokenizer=req.get("tokenizer_path") or req["model_path"], dtype=req["dtype"],
        kv_cache_dtype=kv_cache_dtype, enable_prefix_caching=False, seed=req.get("seed", 0),
        max_model_len=req["max_model_len"], max_num_seqs=req["max_num_seqs"],
        enforce_eager=req.get("enforce_eager", True), disable_log_stats=False,
        gpu_memory_utilization=req.get("gpu_memory_utilization", 0.5),
    )


def cache_facts(llm) -> dict:
    """Block size, block count and bytes per block, the latter measured from the KV tensors."""
    config = llm.llm_engine.vllm_config.cache_config
    blocks = int(config.num_gpu_blocks or 0)

    def tensor_bytes(worker) -> int:
        caches = worker.model_runner.kv_caches
        return sum(t.numel() * t.element_size() for t in caches)

    try:
        total = int(llm.collective_rpc(tensor_bytes)[0])
    except Exception as err:  # a layout we do not know: report it rather than guess
        print(f"negsamp: could not read the KV cache tensors ({err!r})", file=sys.stderr)
        total = 0
    return {"block_size": int(config.block_size), "num_blocks": blocks,
            "bytes_per_block": total // blocks if blocks and total else 0,
            "kv_cache_dtype": str(config.cache_dtype)}


def kv_blocks_in_use(llm) -> int | None:
    """Blocks the scheduler holds right now, from the engine's KV-cache usage gauge."""
    try:
        metrics = llm.get_metrics()
    except Exception:
        return None
    for metric in metrics:
        if metric.name == "vllm:kv_cache_usage_perc":
            blocks = llm.llm_engine.vllm_config.cache_config.num_gpu_blocks or 0
            return round(float(metric.value) * blocks)
    return None


def drive(llm, items: list[dict], *, on_finish=None, sample_kv: bool = False) -> dict:
    """Submit `items` at their `arrival` offsets (seconds) and step the engine until all finish.

    Each item: `id`, `ids` (prompt token ids), `params` (SamplingParams), `arrival`.
    Returns per-request timings (submit, first token, finish; seconds from the start)
    and the peak number of KV blocks in use, read after every engine step.
    """
    from vllm.inputs import TokensPrompt

    engine = llm.llm_engine
    pending = sorted(items, key=lambda it: it["arrival"])
    timing: dict[str, dict] = {}
    peak_blocks = 0
    start = time.perf_counter()
    while pending or engine.has_unfinished_requests():
        now = time.perf_counter() - start
        while pending and pending[0]["arrival"] <= now:
            item = pending.pop(0)
            engine.add_request(item["id"], TokensPrompt(prompt_token_ids=item["ids"]), item["params"])
            timing[item["id"]] = {"arrival": item["arrival"], "submit": time.perf_counter() - start}
        if not engine.has_unfinished_requests():
            time.sleep(max(0.0, pending[0]["arrival"] - now))
            continue
        outputs = engine.step()
        now = time.perf_counter() - start
        if sample_kv:
            peak_blocks = max(peak_blocks, kv_blocks_in_use(llm) or 0)
        for out in outputs:
            record = timing[out.request_id]
            if "first" not in record and out.outputs and out.outputs[0].token_ids:
                record["first"] = now
            if out.finished:
                record["finish"] = now
                record["output_tokens"] = len(out.outputs[0].token_ids)
                if on_finish is not None:
                    on_finish(out, record)
    return {"timing": timing, "wall_s": time.perf_counter() - start, "peak_kv_blocks": peak_blocks}


def greedy(max_tokens: int, *, stop_ids: list[int] | None = None, ignore_eos: bool = False):
    from vllm import SamplingParams

    return SamplingParams(temperature=0.0, max_tokens=max_tokens, min_tokens=max_tokens if ignore_eos else 0,
                          stop_token_ids=stop_ids or None, ignore_eos=ignore_eos, skip_special_tokens=True)


def blocks_for(tokens: int, block_size: int) -> int:
    return math.ceil(max(tokens, 0) / block_size)


def run_generate(req: dict, llm) -> dict:
    """Greedy generation of `req["samples"]`, each row appended to the run store when it finishes."""
    facts = cache_facts(llm)
    samples = {s["sample_id"]: s for s in req["samples"]}
    stop_ids = req.get("stop_token_ids") or []
    items = [{"id": s["sample_id"], "ids": s["prompt_ids"], "arrival": 0.0,
              "params": greedy(s["max_new_tokens"], stop_ids=stop_ids)} for s in req["samples"]]
    done = [0]

    def on_finish(out, record) -> None:
        sample = samples[out.request_id]
        tokens = list(out.outputs[0].token_ids)
        prompt = len(sample["prompt_ids"])
        # vLLM pages the cache: a request holds ceil(tokens / block_size) blocks, each of
        # bytes_per_block (measured from the cache tensors); the last sampled token is never
        # written to the cache, hence prompt + output - 1 at the end.
        per_block = facts["bytes_per_block"]
        append_jsonl(req["predictions_path"], [{
            "version": 1, "sample_id": sample["sample_id"], "task": sample["task"], "model": req["model_name"],
            "method": req["method"], "prediction": out.outputs[0].text, "output_tokens": len(tokens),
            "hit_eos": out.outputs[0].finish_reason == "stop", "prompt_tokens": prompt,
            "kv_bytes_prefill": blocks_for(prompt, facts["block_size"]) * per_block,
            "kv_bytes_end": blocks_for(prompt + len(tokens) - 1, facts["block_size"]) * per_block,
            "prefill_s": record.get("first", record["finish"]) - record["submit"],
            "decode_s": record["finish"] - record.get("first", record["finish"]),
            "batch_size": len(items), "batch_note": req.get("batch_note"),
        }])
        done[0] += 1
        progress(done[0], len(items))

    progress(0, len(items))
    result = drive(llm, items, on_finish=on_finish)
    return {"generated": done[0], "wall_s": result["wall_s"], "cache": facts}


def synthetic_ids(rng: random.Random, vocab: int, length: int, banned: set[int]) -> list[int]:
    """Seeded random token ids, special tokens excluded (the same for every engine)."""
    ids: list[int] = []
    while len(ids) < length:
        token = rng.randrange(vocab)
        if token not in banned:
            ids.append(token)
    return ids


def request_figures(timing: dict) -> list[dict]:
    """TTFT, TPOT and latency of each finished request, from its arrival."""
    rows = []
    for rid, t in timing.items():
        first = t.get("first", t["finish"])
        n = t.get("output_tokens", 0)
        rows.append({"id": rid, "ttft_s": first - t["arrival"], "latency_s": t["finish"] - t["arrival"],
                     "tpot_s": (t["finish"] - first) / (n - 1) if n > 1 else 0.0, "output_tokens": n})
    return rows


def run_load(req: dict) -> dict:
    """Every setting (offline batch, served rate, length replay) on one kv_cache_dtype's engine."""
    llm = make_engine(req, req["kv_cache_dtype"])
    rng = random.Random(req.get("seed", 0))
    vocab = llm.llm_engine.model_config.get_vocab_size()
    prompt = synthetic_ids(rng, vocab, req["prompt_len"], set(req.get("special_ids") or []))
    # One untimed request, so the first measured setting pays no lazy set-up.
    drive(llm, [{"id": "warmup", "ids": prompt, "arrival": 0.0, "params": greedy(2, ignore_eos=True)}])
    runs = []
    settings = req["settings"]
    progress(0, len(settings))
    for index, setting in enumerate(settings):
        items = [{"id": f"r{index}-{i}", "ids": prompt, "arrival": setting["arrivals"][i],
                  "params": greedy(n_out, ignore_eos=True)} for i, n_out in enumerate(setting["output_tokens"])]
        result = drive(llm, items, sample_kv=True)
        runs.append({"setting": setting["name"], "kv_cache_dtype": req["kv_cache_dtype"], "wall_s": result["wall_s"],
                     "peak_kv_blocks": result["peak_kv_blocks"], "requests": request_figures(result["timing"])})
        progress(index + 1, len(settings))
    return {"cache": cache_facts(llm), "runs": runs}


def run_probe(req: dict) -> dict:
    """Try each kv_cache_dtype in a fresh worker process; record what happened."""
    import subprocess

    outcomes = {}
    for dtype in req["kv_cache_dtypes"]:
        sub = dict(req, mode="probe_one", kv_cache_dtype=dtype, result_path=req["result_path"] + f".{dtype}")
        sub_path = req["result_path"] + f".{dtype}.request.json"
        atomic_json(sub_path, sub)
        proc = subprocess.run([sys.executable, "-P", __file__, sub_path], capture_output=True, text=True)
        if proc.returncode == 0:
            outcomes[dtype] = json.loads(Path(sub["result_path"]).read_text(encoding="utf-8"))
        else:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            errors = [ln for ln in lines if "Error" in ln or "error" in ln]
            outcomes[dtype] = {"supported": False, "error": (errors or lines or ["(no output)"])[-1][-400:]}
    return {"outcomes": outcomes}


def probe_one(req: dict) -> dict:
    llm = make_engine(req, req["kv_cache_dtype"])
    out = llm.generate([{"prompt_token_ids": [1, 2, 3, 4, 5, 6, 7, 8]}], greedy(4, ignore_eos=True))
    return {"supported": True, "cache": cache_facts(llm), "output_tokens": list(out[0].outputs[0].token_ids)}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -P vllm_worker.py REQUEST.json", file=sys.stderr)
        return 2
    req = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    if req.get("version") != REQUEST_VERSION:
        print(f"{argv[0]}: request version {req.get('version')!r}, this worker reads {REQUEST_VERSION}",
              file=sys.stderr)
        return 2
    mode = req["mode"]
    if mode == "probe":
        atomic_json(req["result_path"], run_probe(req))
    elif mode == "probe_one":
        atomic_json(req["result_path"], probe_one(req))
    elif mode == "generate":
        llm = make_engine(req, req["kv_cache_dtype"])
        atomic_json(req["result_path"], run_generate(req, llm))
    else:
        atomic_json(req["result_path"], run_load(req))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
