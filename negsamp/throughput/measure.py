"""`measure_throughput`: both sides on one model, interleaved after a warm-up, into a report."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, NegsampError
from negsamp.throughput.figures import end_to_end, ratios, side_figures
from negsamp.throughput.lengths import output_lengths, read_lengths
from negsamp.throughput.options import (
    _check_int,
    _reporter,
    _resolve_device,
    _resolve_dtype,
    parse_batch_sizes,
)
from negsamp.throughput.primitives import (
    MEMORY_MEASURE_CPU,
    MEMORY_MEASURE_CUDA,
    measure_bandwidth,
    run_once,
    synthetic_prompt,
    weight_bytes,
)
from negsamp.throughput.render import summarise
from negsamp.throughput.report import (
    BASELINE_SPEC,
    BatchResult,
    OutputLengths,
    RunRecord,
    Side,
    ThroughputReport,
)


class ThroughputError(NegsampError):
    """A throughput run failed; the message names the side, the method and the batch size."""


def _device_name(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({torch.get_num_threads()} threads)"


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """torch's CPU threads set for a block, and put back after it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _attention(model: Any, implementation: str | None):
    """Run a side with the attention it is deployed with (switching the shared model if needed)."""
    current = getattr(model.config, "_attn_implementation", None)
    if implementation is None or implementation == current or not hasattr(model, "set_attn_implementation"):
        yield
        return
    model.set_attn_implementation(implementation)
    try:
        yield
    finally:
        model.set_attn_implementation(current)


def measure_throughput(
    model_name: str,
    method_spec: str | Any,
    *,
    batch_sizes: Sequence[int] | str = (1, 4, 16),
    prompt_len: int = 512,
    gen_len: int = 32,
    repeats: int = 5,
    warmup: int = 1,
    lengths_report: str | Path | Any | None = None,
    progress: bool | Callable[[str], Any] | None = False,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    threads: int | None = None,
) -> ThroughputReport:
    """Measure the baseline and `method_spec` on `model_name`, interleaved; see the `negsamp.throughput` docstring.

    `lengths_report`: an evaluation `report.json` path (or an `EvaluationReport`, or
    an `OutputLengths`) whose output lengths give the end-to-end figures.
    `progress`: True prints one line per run to stderr; a callable gets the lines.
    `threads`: CPU threads for torch (`torch.set_num_threads`; default: torch's own). On a
    CPU shared with other jobs, 1 thread is often steadier than all cores.
    Every argument is checked before the model is loaded.
    """
    wall_start = time.perf_counter()
    from negsamp.methods import parse_method

    method = parse_method(method_spec)
    baseline = parse_method(BASELINE_SPEC)
    sizes = parse_batch_sizes(batch_sizes)
    _check_int("prompt_len", prompt_len, 1)
    _check_int("gen_len", gen_len, 2)
    _check_int("repeats", repeats, 1)
    _check_int("warmup", warmup, 0)
    _check_int("seed", seed, 0)
    if threads is not None:
        _check_int("threads", threads, 1)
    lengths: OutputLengths | None = None
    if isinstance(lengths_report, OutputLengths):
        lengths = lengths_report
    elif isinstance(lengths_report, (str, Path)):
        lengths = read_lengths(lengths_report)
    elif lengths_report is not None:
        lengths = output_lengths(lengths_report, "attached evaluation report")
    torch_device = _resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, torch_device)
    say = _reporter(progress)

    notes: list[str] = []
    method_sizes = list(sizes)
    skipped: dict[int, str] = {}
    if not method.supports_batching:
        reason = f"the method does not batch ({method.batching_note})"
        if 1 not in sizes:
            sizes = [1, *sizes]
            notes.append("batch size 1 added: the method does not batch, so it is only measured at batch size 1")
        method_sizes = [1]
        skipped = {s: reason for s in sizes if s != 1}
        if skipped:
            notes.append(f"method measured at batch size 1 only ({', '.join(map(str, skipped))} skipped): {reason}")
    if method.split_prefill:
        notes.append("the whole prompt is prefilled under compression (compress=context+question semantics); "
                     "where the question starts does not change the work done")
    if lengths is not None:
        if lengths.method != method.spec:
            notes.append(f"output lengths come from an evaluation of {lengths.method!r}, not {method.spec!r}")
        if lengths.model != model_name:
            notes.append(f"output lengths come from model {lengths.model!r}, not {model_name!r}")

    with _torch_threads(threads):
        from negsamp import models

        say(f"loading {model_name} ...")
        model, tokenizer = models.load_model(model_name, attn_implementation=method.attn_implementation,
                                             dtype=torch_dtype)
        model.to(torch_device)
        max_positions = getattr(model.config, "max_position_embeddings", None)
        if max_positions is not None and prompt_len + gen_len > max_positions:
            raise InputError(f"prompt_len + gen_len = {prompt_len + gen_len} exceeds the model's "
                             f"{max_positions} positions")
        method.check_model(model)
        attn_method = getattr(model.config, "_attn_implementation", None)
        attn_baseline = attn_method
        if method.attn_implementation is not None and attn_method != "sdpa" and hasattr(model, "set_attn_implementation"):
            attn_baseline = "sdpa"
            notes.append(f"the baseline runs with {attn_baseline} attention, the method with {attn_method} "
                         "(what it needs), each as it would be deployed")

        say("measuring memory bandwidth ...")
        bandwidth = measure_bandwidth(torch_device)
        weights = weight_bytes(model)
        prompts = {s: synthetic_prompt(tokenizer, model, s, prompt_len, seed) for s in sizes}
        sides: dict[Side, tuple[Any, str | None]] = {"baseline": (baseline, attn_baseline), "method": (method, attn_method)}

        runs: list[RunRecord] = []
        schedule: list[tuple[bool, int, int, Side]] = []
        for phase, count in ((True, warmup), (False, repeats)):
            for rep in range(count):
                for size in sizes:
                    order: list[Side] = ["baseline", "method"] if rep % 2 == 0 else ["method", "baseline"]
                    for side in order:
                        if side == "method" and size not in method_sizes:
                            continue
                        schedule.append((phase, rep, size, side))

        # Everything alive now (libraries, weights) stays: freezing it keeps the gc.collect()
        # before each run (memory measurement) from walking millions of objects every time.
        gc.collect()
        gc.freeze()
        try:
            for index, (is_warmup, rep, size, side) in enumerate(schedule):
                spec, attn = sides[side]
                label = "warm-up" if is_warmup else "repeat"
                say(f"[{index + 1}/{len(schedule)}] {label} {rep + 1} batch {size} {side}")
                try:
                    with _attention(model, attn):
                        figures = run_once(model, spec, prompts[size], gen_len)
                except NegsampError:
                    raise
                except Exception as err:
                    raise ThroughputError(f"{side} {spec.spec!r} failed at batch size {size}: "
                                          f"{type(err).__name__}: {err}") from err
                runs.append(RunRecord(index=index, warmup=is_warmup, repeat=rep, batch_size=size, side=side,
                                      **figures))
        finally:
            gc.unfreeze()

        results = []
        for size in sizes:
            measured = {side: [r for r in runs if not r.warmup and r.batch_size == size and r.side == side]
                        for side in ("baseline", "method")}
            base = side_figures(measured["baseline"], prompt_len=prompt_len, gen_len=gen_len,
                                weights=weights, bandwidth=bandwidth.bytes_per_s)
            meth = None
            if measured["method"]:
                meth = side_figures(measured["method"], prompt_len=prompt_len, gen_len=gen_len,
                                    weights=weights, bandwidth=bandwidth.bytes_per_s)
            results.append(BatchResult(
                batch_size=size, baseline=base, method=meth, skipped=skipped.get(size),
                ratios=ratios(meth, base) if meth else None,
                end_to_end=end_to_end(meth, base, lengths) if (meth and lengths) else None,
            ))

        from negsamp.evaluator import environment

        del model
        gc.collect()
        return ThroughputReport(
            model=model_name, method=method.spec, device=_device_name(torch_device),
            dtype=str(torch_dtype).removeprefix("torch."), attn_baseline=attn_baseline, attn_method=attn_method,
            prompt_len=prompt_len, gen_len=gen_len, repeats=repeats, warmup=warmup, seed=seed, batch_sizes=sizes,
            memory_measure=MEMORY_MEASURE_CUDA if torch_device.type == "cuda" else MEMORY_MEASURE_CPU,
            weight_bytes=weights, bandwidth=bandwidth, results=results, lengths=lengths, runs=runs,
            notes=notes, summary=summarise(results), wall_s=time.perf_counter() - wall_start,
            environment=environment(),
        )
