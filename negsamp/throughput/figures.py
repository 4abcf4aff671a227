"""Figures from the runs: medians and spread per side, ratios, and the end-to-end maths."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from negsamp.formats import ratio
from negsamp.throughput.report import EndToEnd, OutputLengths, Ratios, RunRecord, SideFigures, Stat


def side_figures(runs: Sequence[RunRecord], *, prompt_len: int, gen_len: int,
                 weights: int, bandwidth: float) -> SideFigures:
    """Medians and spread of one side's measured runs at one batch size."""
    size = runs[0].batch_size
    steps = gen_len - 1
    decode = Stat.of([size * steps / max(r.decode_s, 1e-12) for r in runs])
    kv_prefill = int(statistics.median(r.kv_bytes_prefill for r in runs))
    kv_end = int(statistics.median(r.kv_bytes_end for r in runs))
    per_step = weights + (kv_prefill + kv_end) / 2
    roofline = bandwidth / per_step * size if per_step > 0 else 0.0
    return SideFigures(
        prefill_tok_s=Stat.of([size * prompt_len / max(r.prefill_s, 1e-12) for r in runs]),
        decode_tok_s=decode,
        ttft_s=Stat.of([r.ttft_s for r in runs]),
        tpot_s=Stat.of([r.decode_s / steps for r in runs]),
        peak_mem_bytes=Stat.of([r.peak_mem_bytes for r in runs]),
        kv_bytes_prefill=kv_prefill,
        kv_bytes_end=kv_end,
        bytes_per_decode_step=per_step,
        roofline_decode_tok_s=roofline,
        roofline_fraction=decode.median / roofline if roofline else 0.0,
    )


def ratios(method: SideFigures, baseline: SideFigures) -> Ratios:
    """Method / baseline of the medians."""
    return Ratios(
        prefill_tok_s=ratio(method.prefill_tok_s.median, baseline.prefill_tok_s.median),
        decode_tok_s=ratio(method.decode_tok_s.median, baseline.decode_tok_s.median),
        ttft_s=ratio(method.ttft_s.median, baseline.ttft_s.median),
        tpot_s=ratio(method.tpot_s.median, baseline.tpot_s.median),
        peak_mem_bytes=ratio(method.peak_mem_bytes.median, baseline.peak_mem_bytes.median),
        kv_bytes_prefill=ratio(method.kv_bytes_prefill, baseline.kv_bytes_prefill),
        kv_bytes_end=ratio(method.kv_bytes_end, baseline.kv_bytes_end),
        roofline_fraction=ratio(method.roofline_fraction, baseline.roofline_fraction),
    )


def request_seconds(figures: SideFigures, output_tokens: float) -> float:
    """Per-request time: TTFT + (L - 1) * TPOT, medians; L - 1 floored at 0."""
    return figures.ttft_s.median + max(output_tokens - 1.0, 0.0) * figures.tpot_s.median


def end_to_end(method: SideFigures, baseline: SideFigures, lengths: OutputLengths) -> EndToEnd:
    lb, lm = lengths.baseline_output_tokens_mean, lengths.method_output_tokens_mean
    tb, tm = request_seconds(baseline, lb), request_seconds(method, lm)
    return EndToEnd(
        baseline_output_tokens=lb, method_output_tokens=lm, output_length_ratio=ratio(lm, lb),
        baseline_request_s=tb, method_request_s=tm, request_time_ratio=ratio(tm, tb),
        decode_speedup=ratio(method.decode_tok_s.median, baseline.decode_tok_s.median),
        end_to_end_speedup=ratio(tb, tm),
    )
