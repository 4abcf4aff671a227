"""`measure_throughput`: both sides on one model, interleaved after a warm-up, into a report."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from negsamp.errors import InputError, NegsampError
from negsamp.methods import parse_method
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


DEFAULT_QUESTION_LEN = 32
"""Question tokens at the end of each synthetic prompt by default (LongBench questions run
20-60 tokens), at most a quarter of the prompt."""


@dataclass
class _Setup:
    """A throughput run's checked arguments and plan, before the model is loaded."""

    method: Any
    sizes: list[int]
    method_sizes: list[int]
    skipped: dict[int, str]
    lengths: OutputLengths | None
    notes: list[str]


def _read_lengths(lengths_report: str | Path | Any | None) -> OutputLengths | None:
    if isinstance(lengths_report, OutputLengths) or lengths_report is None:
        return lengths_report
    if isinstance(lengths_report, (str, Path)):
        return read_lengths(lengths_report)
    return output_lengths(lengths_report, "attached evaluation report")


def _setup(model_name: str, method_spec: Any, batch_sizes: Any, lengths_report: Any, numbers: dict) -> _Setup:
    """Check every argument (before any model is loaded) and plan which batch sizes each side runs."""
    from negsamp.methods import parse_method

    method = parse_method(method_spec)
    sizes = parse_batch_sizes(batch_sizes)
    for name, minimum in (("prompt_len", 1), ("gen_len", 2), ("repeats", 1), ("warmup", 0), ("seed", 0),
                          ("question_len", 0)):
        _check_int(name, numbers[name], minimum)
    if numbers["question_len"] >= numbers["prompt_len"]:
        raise InputError(f"question_len={numbers['question_len']} must be below prompt_len={numbers['prompt_len']}")
    if numbers["threads"] is not None:
        _check_int("threads", numbers["threads"], 1)
    lengths = _read_lengths(lengths_report)
    notes: list[str] = []
    method_sizes, skipped = list(sizes), {}
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
        notes.append(f"compress=context: the first {numbers['prompt_len'] - numbers['question_len']} prompt tokens "
                     f"are prefilled under compression, the last {numbers['question_len']} (the question) "
                     "uncompressed, as evaluate runs it")
    if lengths is not None and lengths.method != method.spec:
        notes.append(f"output lengths come from an evaluation of {lengths.method!r}, not {method.spec!r}")
    if lengths is not None and lengths.model != model_name:
        notes.append(f"output lengths come from model {lengths.model!r}, not {model_name!r}")
    return _Setup(method, sizes, method_sizes, skipped, lengths, notes)


def _load(model_name: str, method: Any, device: Any, dtype: Any, total_len: int, notes: list[str]):
    """The model (with the method's attention), and the attention each side runs with."""
    from negsamp import models

    model, tokenizer = models.load_model(model_name, attn_implementation=method.attn_implementation,
                                         device=str(device), dtype=dtype)
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions is not None and total_len > max_positions:
        raise InputError(f"prompt_len + gen_len = {total_len} exceeds the model's {max_positions} positions")
    method.check_model(model)
    attn_method = getattr(model.config, "_attn_implementation", None)
    attn_baseline = attn_method
    if method.attn_implementation is not None and hasattr(model, "set_attn_implementation"):
        attn_baseline = models.resolve_attention(device)
        if attn_baseline != attn_method:
            notes.append(f"the baseline runs with {attn_baseline} attention, the method with {attn_method} "
                         "(what it needs), each as it would be deployed")
    return model, tokenizer, attn_baseline, attn_method


def _schedule(setup: _Setup, warmup: int, repeats: int) -> list[tuple[bool, int, int, Side]]:
    """Warm-ups, then repeats; each batch size in turn, the side order alternating between repeats."""
    schedule: list[tuple[bool, int, int, Side]] = []
    for phase, count in ((True, warmup), (False, repeats)):
        for rep in range(count):
            for size in setup.sizes:
                order: list[Side] = ["baseline", "method"] if rep % 2 == 0 else ["method", "baseline"]
                schedule += [(phase, rep, size, side) for side in order
                             if side == "baseline" or size in setup.method_sizes]
    return schedule


def _run_schedule(model: Any, sides: dict, prompts: dict, schedule: list, gen_len: int, split: int,
                  say: Callable[[str], Any]) -> list[RunRecord]:
    """Every run of the schedule, in order, with gc frozen (see below)."""
    runs: list[RunRecord] = []
    # Everything alive now (libraries, weights) stays: freezing it keeps the gc.collect()
    # before each run (memory measurement) from walking millions of objects every time.
    gc.collect()
    gc.freeze()
    try:
        for index, (is_warmup, rep, size, side) in enumerate(schedule):
            spec, attn = sides[side]
            say(f"[{index + 1}/{len(schedule)}] {'warm-up' if is_warmup else 'repeat'} {rep + 1} "
                f"batch {size} {side}")
            try:
                with _attention(model, attn):
                    figures = run_once(model, spec, prompts[size], gen_len, split)
            except NegsampError:
                raise
            except Exception as err:
                raise ThroughputError(f"{side} {spec.spec!r} failed at batch size {size}: "
                                      f"{type(err).__name__}: {err}") from err
            runs.append(RunRecord(index=index, warmup=is_warmup, repeat=rep, batch_size=size, side=side, **figures))
    finally:
        gc.unfreeze()
    return runs


def _results(setup: _Setup, runs: list[RunRecord], figures: dict) -> list[BatchResult]:
    """Per batch size: each side's figures over its measured runs, ratios, end to end."""
    results = []
    for size in setup.sizes:
        measured = {side: [r for r in runs if not r.warmup and r.batch_size == size and r.side == side]
                    for side in ("baseline", "method")}
        base = side_figures(measured["baseline"], **figures)
        meth = side_figures(measured["method"], **figures) if measured["method"] else None
        results.append(BatchResult(
            batch_size=size, baseline=base, method=meth, skipped=setup.skipped.get(size),
            ratios=ratios(meth, base) if meth else None,
            end_to_end=end_to_end(meth, base, setup.lengths) if (meth and setup.lengths) else None,
        ))
    return results


def measure_throughput(
    model_name: str, method_spec: str | Any, *, batch_sizes: Sequence[int] | str = (1, 4, 16),
    prompt_len: int = 512, gen_len: int = 32, repeats: int = 5, warmup: int = 1,
    lengths_report: str | Path | Any | None = None, progress: bool | Callable[[str], Any] | None = False,
    seed: int = 0, device: str = "auto", dtype: str = "auto", threads: int | None = None,
    question_len: int | None = None,
) -> ThroughputReport:
    """Measure the baseline and `method_spec` on `model_name`, interleaved; see the `negsamp.throughput` docstring.

    `lengths_report`: an evaluation `report.json` path (or an `EvaluationReport`, or
    an `OutputLengths`) whose output lengths give the end-to-end figures.
    `progress`: True prints one line per run to stderr; a callable gets the lines.
    `threads`: CPU threads for torch (`torch.set_num_threads`; default: torch's own). On a
    CPU shared with other jobs, 1 thread is often steadier than all cores.
    `question_len`: the last tokens of each prompt are its question (see `compress=context`);
    default `DEFAULT_QUESTION_LEN`, at most a quarter of `prompt_len`. All is checked before loading.
    """
    wall_start = time.perf_counter()
    if question_len is None and isinstance(prompt_len, int):
        question_len = min(DEFAULT_QUESTION_LEN, prompt_len // 4)
    numbers: dict[str, Any] = {"prompt_len": prompt_len, "gen_len": gen_len, "repeats": repeats, "warmup": warmup,
               "seed": seed, "question_len": question_len, "threads": threads}
    setup = _setup(model_name, method_spec, batch_sizes, lengths_report, numbers)
    torch_device = _resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, torch_device)
    say = _reporter(progress)
    with _torch_threads(threads):
        say(f"loading {model_name} ...")
        model, tokenizer, attn_baseline, attn_method = _load(model_name, setup.method, torch_device, torch_dtype,
                                                             prompt_len + gen_len, setup.notes)
        say("measuring memory bandwidth ...")
        bandwidth = measure_bandwidth(torch_device)
        weights = weight_bytes(model)
        prompts = {s: synthetic_prompt(tokenizer, model, s, prompt_len, seed) for s in setup.sizes}
        sides = {"baseline": (parse_method(BASELINE_SPEC), attn_baseline), "method": (setup.method, attn_method)}
        runs = _run_schedule(model, sides, prompts, _schedule(setup, warmup, repeats), gen_len,
                             prompt_len - question_len, say)
        results = _results(setup, runs, {"prompt_len": prompt_len, "gen_len": gen_len, "weights": weights,
                                         "bandwidth": bandwidth.bytes_per_s})
        device_name = _device_name(torch_device)
        del model
        gc.collect()
    from negsamp.evaluator import environment

    return ThroughputReport(
        model=model_name, method=setup.method.spec, device=device_name, dtype=str(torch_dtype).removeprefix("torch."),
        attn_baseline=attn_baseline, attn_method=attn_method, batch_sizes=setup.sizes, weight_bytes=weights,
        memory_measure=MEMORY_MEASURE_CUDA if torch_device.type == "cuda" else MEMORY_MEASURE_CPU,
        bandwidth=bandwidth, results=results, lengths=setup.lengths, runs=runs, notes=setup.notes,
        summary=summarise(results), wall_s=time.perf_counter() - wall_start, environment=environment(),
        **{k: v for k, v in numbers.items() if k != "threads"},
    )
