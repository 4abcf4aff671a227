"""The throughput run attached to an evaluation report, and the one number the leaderboard shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from negsamp.errors import InputError
from negsamp.throughput.lengths import output_lengths
from negsamp.throughput.measure import measure_throughput
from negsamp.throughput.render import format_table
from negsamp.throughput.report import AttachedThroughput, ThroughputReport

# What `measure_for_report` runs: small enough for about a minute on our CPUs.
REPORT_PROMPT_LEN = 512
REPORT_GEN_LEN = 32
REPORT_REPEATS = 3
REPORT_WARMUP = 1


def measure_for_report(report: Any, *, progress: bool | Callable[[str], Any] | None = True,
                       device: str = "auto", dtype: str = "auto", batch_sizes: Sequence[int] | None = None,
                       prompt_len: int | None = None, repeats: int | None = None) -> AttachedThroughput:
    """A throughput run for an evaluation report's model and method, with its own output lengths.

    Modest sizes by default (prompt 512, 32 generated tokens, batch sizes 1 and 4 — 1 only
    for methods that do not batch — 3 repeats after 1 warm-up): about a minute for the
    bundled model on an idle 2-core CPU, several under load. `batch_sizes`, `prompt_len`
    and `repeats` override them; the leaderboard shows only the smallest batch size's
    ratio, so `batch_sizes=[1]` is enough for a submission. Returns the `ThroughputReport`
    plus `table` (the text table) and `ratio`, typed as `AttachedThroughput` for
    `EvaluationReport.throughput`.

    `ratio` is the one number the leaderboard shows: the end-to-end speed-up at
    batch size 1 (per-request time with each side's measured output lengths,
    baseline / method), or the decode tok/s ratio when no lengths are known.
    """
    from negsamp.methods import parse_method

    if getattr(report, "source", None) != "method":
        raise InputError("a throughput run needs a method negsamp ran (not scored --predictions)")
    method = parse_method(report.method)
    sizes = list(batch_sizes) if batch_sizes else [1, 4]
    if not method.supports_batching:
        sizes = [1]
    result = measure_throughput(
        report.model, method, batch_sizes=sizes, gen_len=REPORT_GEN_LEN, warmup=REPORT_WARMUP,
        prompt_len=REPORT_PROMPT_LEN if prompt_len is None else prompt_len,
        repeats=REPORT_REPEATS if repeats is None else repeats,
        lengths_report=output_lengths(report, "this evaluation report"), progress=progress,
        device=device, dtype=dtype,
    )
    return AttachedThroughput(**dict(result), table=format_table(result), ratio=headline_ratio(result))


def headline_ratio(result: ThroughputReport) -> float | None:
    """End-to-end speed-up at the smallest batch size, else its decode tok/s ratio."""
    measured = [b for b in result.results if b.ratios is not None]
    if not measured:
        return None
    first = min(measured, key=lambda b: b.batch_size)
    if first.end_to_end is not None and first.end_to_end.end_to_end_speedup is not None:
        return first.end_to_end.end_to_end_speedup
    return first.ratios.decode_tok_s
