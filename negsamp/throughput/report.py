"""What throughput.json holds: the pydantic models of a throughput report."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from negsamp import __version__
from negsamp.mining import BASELINE

THROUGHPUT_VERSION = 2

Side = Literal["baseline", "method"]
BASELINE_SPEC = BASELINE  # one name for the baseline everywhere


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Stat(_Model):
    """A figure over the measured repeats."""

    median: float
    """Median over the repeats (what ratios are computed from)."""
    min: float
    """Smallest value."""
    max: float
    """Largest value."""
    q1: float
    """First quartile (linear interpolation, numpy's default)."""
    q3: float
    """Third quartile."""
    n: int
    """Number of repeats."""

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        values = [float(v) for v in values]
        if not values:
            raise ValueError("no values")
        if len(values) == 1:
            q1 = q3 = values[0]
        else:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        return cls(median=float(statistics.median(values)), min=min(values), max=max(values),
                   q1=q1, q3=q3, n=len(values))

    @property
    def spread(self) -> float:
        """(max - min) / median: how noisy the figure was."""
        return (self.max - self.min) / self.median if self.median else 0.0


class RunRecord(_Model):
    """One timed run (one side at one batch size), in the order the runs happened."""

    index: int
    """Position in the run order (0 = first run of the process)."""
    warmup: bool
    """A warm-up run (not counted in the figures)."""
    repeat: int
    """Repeat number (warm-up runs count their own repeats from 0)."""
    batch_size: int
    """Rows in the batch."""
    side: Side
    """`baseline` (method `none`) or `method`."""
    prefill_s: float
    """Seconds of the prefill forward."""
    ttft_s: float
    """Seconds to the first token on the host: prefill + choosing and fetching the first token."""
    decode_s: float
    """Seconds of the gen_len - 1 decode steps."""
    kv_bytes_prefill: int
    """KV-cache bytes after the prefill (whole batch: the sum of the rows' own bytes)."""
    kv_bytes_end: int
    """KV-cache bytes after the last decode step (whole batch: the sum of the rows' own bytes)."""
    peak_mem_bytes: int
    """Peak memory increase over the start of the run (see `memory_measure`)."""
    peak_mem_total_bytes: int
    """Peak memory of the process (CPU: RSS) or allocator (CUDA), weights included."""


class SideFigures(_Model):
    """One side (baseline or method) at one batch size: medians and spread over the repeats."""

    prefill_tok_s: Stat
    """Prompt tokens prefilled per second (batch * prompt_len / prefill_s)."""
    decode_tok_s: Stat
    """Tokens generated per second during decoding, all rows (batch * (gen_len - 1) / decode_s)."""
    ttft_s: Stat
    """Time to first token, seconds."""
    tpot_s: Stat
    """Time per output token of one request during decoding, seconds (decode_s / (gen_len - 1))."""
    peak_mem_bytes: Stat
    """Peak memory increase over the run's start (KV cache + activations; see `memory_measure`)."""
    kv_bytes_prefill: int
    """KV-cache bytes after the prefill, whole batch (median over repeats)."""
    kv_bytes_end: int
    """KV-cache bytes at the end, whole batch (median over repeats)."""
    bytes_per_decode_step: float
    """Bytes a decode step reads at least: weight bytes + mean KV bytes during decode."""
    roofline_decode_tok_s: float
    """Memory-bandwidth bound on decode tok/s: bandwidth / bytes_per_decode_step * batch."""
    roofline_fraction: float
    """Median decode tok/s / roofline_decode_tok_s."""


class Ratios(_Model):
    """Method / baseline, of the medians (>1 for tok/s means faster; <1 for times and bytes means better)."""

    prefill_tok_s: float | None
    """Prefill tok/s ratio."""
    decode_tok_s: float | None
    """Decode tok/s ratio (the pure decode speed-up)."""
    ttft_s: float | None
    """Time-to-first-token ratio."""
    tpot_s: float | None
    """Time-per-output-token ratio."""
    peak_mem_bytes: float | None
    """Peak-memory-increase ratio."""
    kv_bytes_prefill: float | None
    """KV bytes after prefill ratio."""
    kv_bytes_end: float | None
    """KV bytes at the end ratio."""
    roofline_fraction: float | None
    """Ratio of the two roofline fractions."""


class EndToEnd(_Model):
    """Per-request time with each side's own measured output length (from an evaluation report)."""

    baseline_output_tokens: float
    """Mean output tokens of the baseline (L_b)."""
    method_output_tokens: float
    """Mean output tokens of the method (L_m)."""
    output_length_ratio: float | None
    """L_m / L_b."""
    baseline_request_s: float
    """TTFT_b + (L_b - 1) * TPOT_b, medians (L - 1 is floored at 0)."""
    method_request_s: float
    """TTFT_m + (L_m - 1) * TPOT_m, medians."""
    request_time_ratio: float | None
    """method_request_s / baseline_request_s (<1: the method answers a request faster)."""
    decode_speedup: float | None
    """Method decode tok/s / baseline decode tok/s: the speed-up at equal output length."""
    end_to_end_speedup: float | None
    """baseline_request_s / method_request_s: the speed-up once output lengths are counted."""


class BatchResult(_Model):
    """Both sides at one batch size."""

    batch_size: int
    """Rows per batch."""
    baseline: SideFigures
    """The baseline (`none`)."""
    method: SideFigures | None
    """The method; None when it was not run at this batch size (see `skipped`)."""
    skipped: str | None
    """Why the method was not run at this batch size."""
    ratios: Ratios | None
    """Method / baseline of the medians; None when the method was skipped."""
    end_to_end: EndToEnd | None
    """Per-request times with measured output lengths; None without lengths or when skipped."""


class OutputLengths(_Model):
    """Output lengths taken from an evaluation report for the end-to-end figures."""

    source: str
    """Where they come from (file path, or `attached evaluation report`)."""
    model: str
    """The evaluation report's model."""
    method: str
    """The evaluation report's method."""
    samples: int
    """Samples with both lengths known."""
    baseline_output_tokens_mean: float
    """Mean baseline output tokens over those samples."""
    method_output_tokens_mean: float
    """Mean method output tokens over those samples."""


class Bandwidth(_Model):
    """The machine's memory bandwidth, measured with a large tensor copy."""

    device: str
    """`cpu` or `cuda`."""
    copy_bytes: int
    """Size of the copied tensor."""
    bytes_per_s: float
    """Best (bytes read + bytes written) / seconds over the copies."""
    samples_bytes_per_s: list[float]
    """Every copy's figure, in order."""


class ThroughputReport(_Model):
    """`throughput.json`: baseline vs method speed and memory on one machine."""

    version: Literal[2] = THROUGHPUT_VERSION
    """Schema version (2: prompts have a question part, timed through the engine `evaluate` uses)."""
    negsamp_version: str = __version__
    """negsamp version that measured it."""
    model: str
    """Model name as given."""
    method: str
    """Canonical method spec."""
    baseline: str = BASELINE_SPEC
    """The baseline's spec."""
    device: str
    """Where it ran, e.g. `cpu (2 threads)` or the GPU's name."""
    dtype: str
    """Weights and activations dtype."""
    attn_baseline: str | None
    """Attention implementation the baseline ran with."""
    attn_method: str | None
    """Attention implementation the method ran with (eager for methods that read attention weights)."""
    prompt_len: int
    """Prompt tokens per row."""
    question_len: int
    """Of which the last ones are the question (methods with `compress=context` leave them uncompressed)."""
    gen_len: int
    """Generated tokens per row (end-of-sequence ignored)."""
    repeats: int
    """Measured repeats per side and batch size."""
    warmup: int
    """Warm-up runs per side and batch size, before any measured run."""
    seed: int
    """Seed of the synthetic prompts."""
    batch_sizes: list[int]
    """Batch sizes measured (ascending)."""
    memory_measure: str
    """How peak memory was measured."""
    weight_bytes: int
    """Bytes of the model's parameters (each shared tensor once)."""
    bandwidth: Bandwidth
    """Measured memory bandwidth (for the roofline)."""
    results: list[BatchResult]
    """One entry per batch size, ascending."""
    lengths: OutputLengths | None
    """Output lengths used for the end-to-end figures, when given."""
    runs: list[RunRecord]
    """Every run, warm-ups included, in the order they ran."""
    notes: list[str]
    """Anything a reader must know (skipped batch sizes, prefill semantics, mismatches)."""
    summary: str
    """One line: the ratios at the smallest batch size the method ran at."""
    wall_s: float
    """Seconds the whole measurement took (model loading included)."""
    environment: dict[str, str]
    """Python, platform and package versions."""


def _positive_finite(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive finite number (method / baseline tokens per second)")
    return float(value)


class AttachedThroughput(ThroughputReport):
    """A throughput run attached to an evaluation report (`EvaluationReport.throughput`)."""

    table: str
    """The text table of the run (`format_table`)."""
    ratio: Annotated[float | None, BeforeValidator(_positive_finite)]
    """The one number the leaderboard shows: the end-to-end speed-up at the smallest batch
    size (per-request time with each side's measured output lengths, baseline / method),
    else the decode tok/s ratio there; None when the method was measured at no batch size."""
