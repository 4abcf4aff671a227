"""Baseline-vs-method throughput: what a compression method buys (and costs) in speed and memory.

`measure_throughput(model, method, ...)` runs the uncompressed baseline (`none`) and
the method in the same process, on the same model weights and the same synthetic
prompts, interleaved, after a warm-up, and reports medians with their spread and the
ratios method / baseline of those medians. Absolute numbers on a shared, noisy
machine move from minute to minute; ratios of interleaved runs hold much better.

One run (one side, one batch size):

- the prompt: `batch_size` rows of exactly `prompt_len` random token ids (seeded,
  special tokens excluded), identical for both sides, no padding;
- prefill: the whole prompt in one forward under `method.compression(model)` into
  `method.make_cache(model, batch_size)` (for methods with `split_prefill`, this is
  their `compress=context+question` setting: throughput does not depend on where
  the question starts), then the first token is chosen (argmax) and fetched to the host;
- decode: exactly `gen_len - 1` more greedy steps, end-of-sequence ignored, each
  token fetched to the host (as a server checking stop conditions does), so both
  sides do the same work.

Figures of one run:

- `prefill_s`: the prefill forward; prefill tok/s = batch * prompt_len / prefill_s;
- `ttft_s` (time to first token) = prefill forward + choosing and fetching the first token;
- `decode_s`: the `gen_len - 1` decode steps; decode tok/s = batch * (gen_len - 1) / decode_s;
  TPOT (time per output token, per request) = decode_s / (gen_len - 1);
- KV bytes after the prefill and at the end (`negsamp.kvcache.kv_bytes`, whole batch);
- peak memory: the increase of memory over what the process held just before the run
  (weights excluded, KV cache + activations + logits included). On CUDA it is the
  allocator's peak (`torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`)
  minus the allocated bytes at the start. On CPU there is no allocator peak to read
  and `ru_maxrss` is a process-lifetime high-water mark, so the resident set size
  (psutil) is sampled every `RSS_SAMPLE_S` by a background thread during the run,
  after a `gc.collect()` and glibc `malloc_trim(0)` that hand memory freed by earlier
  runs back to the OS (else a later run reuses it and looks free). It is a lower
  bound of the true peak (a spike shorter than the sampling interval can be missed).

End to end (`lengths_report`): compression can make outputs longer, which eats its
speed-up. With L the mean measured output tokens of each side in an evaluation
report, the per-request time is `TTFT + (L - 1) * TPOT` for that side; the report
puts the resulting speed-up next to the pure decode speed-up.

Decode roofline: decoding is memory bound; each decode step reads every weight once
and the whole KV cache. The machine's memory bandwidth is measured with a large
tensor copy (bytes read + written / time, best of several), the bytes read per step
are `weight bytes + mean KV bytes during decode` (the mean of the after-prefill and
end sizes), and the roofline is `bandwidth / bytes per step * batch` tokens/s.
The report gives the achieved decode tok/s as a fraction of it.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from negsamp import __version__
from negsamp.errors import InputError, NegsampError

THROUGHPUT_VERSION = 1

RSS_SAMPLE_S = 0.002
"""Interval of the CPU resident-set-size sampler (seconds)."""

BANDWIDTH_BYTES_CPU = 256 * 2**20
"""Size of the tensor copied to measure CPU memory bandwidth."""
BANDWIDTH_BYTES_CUDA = 1024 * 2**20
"""Size of the tensor copied to measure GPU memory bandwidth."""
BANDWIDTH_REPEATS = 7
"""Copies timed; the best one counts."""

# What `measure_for_report` runs: small enough for about a minute on our CPUs.
REPORT_PROMPT_LEN = 512
REPORT_GEN_LEN = 32
REPORT_REPEATS = 3
REPORT_WARMUP = 1

MEMORY_MEASURE_CPU = (
    "peak RSS increase over the run (psutil RSS sampled every 2 ms in a background thread, "
    "after gc.collect() and malloc_trim(0)); weights excluded; a lower bound of the true peak"
)
MEMORY_MEASURE_CUDA = (
    "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus the bytes "
    "allocated at the start of the run; weights excluded"
)

Side = Literal["baseline", "method"]
BASELINE_SPEC = "none"


class ThroughputError(NegsampError):
    """A throughput run failed; the message names the side, the method and the batch size."""


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
    """KV-cache bytes after the prefill (whole batch)."""
    kv_bytes_end: int
    """KV-cache bytes after the last decode step (whole batch)."""
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

    version: Literal[1] = THROUGHPUT_VERSION
    """Schema version."""
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


# --------------------------------------------------------------------------- validation


def parse_batch_sizes(text: str | Sequence[int]) -> list[int]:
    """`"1,4,16"` (or a sequence) -> sorted unique positive ints; InputError otherwise."""
    items: list[Any]
    if isinstance(text, str):
        items = [p.strip() for p in text.split(",") if p.strip()]
    else:
        items = list(text)
    if not items:
        raise InputError("batch sizes: give at least one, e.g. 1,4,16")
    sizes = []
    for item in items:
        if isinstance(item, bool):
            raise InputError(f"batch size {item!r} must be a positive integer")
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise InputError(f"batch size {item!r} is not an integer (expected e.g. 1,4,16)") from None
        if isinstance(item, float) and item != value:
            raise InputError(f"batch size {item!r} is not an integer")
        if value < 1:
            raise InputError(f"batch size {value} must be >= 1")
        sizes.append(value)
    return sorted(set(sizes))


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


# --------------------------------------------------------------------------- output lengths


def output_lengths(report: Any, source: str) -> OutputLengths:
    """Mean output tokens of each side from an `EvaluationReport` (or its JSON dict)."""
    from negsamp.evaluator import EvaluationReport

    if not isinstance(report, EvaluationReport):
        report = EvaluationReport.model_validate(report)
    pairs = [(s.baseline_output_tokens, s.output_tokens) for s in report.samples if s.output_tokens is not None]
    if not pairs:
        raise InputError(f"{source}: the evaluation report has no method output lengths "
                         "(predictions scored without output_tokens); cannot compute end-to-end times")
    return OutputLengths(
        source=source, model=report.model, method=report.method, samples=len(pairs),
        baseline_output_tokens_mean=statistics.fmean(b for b, _ in pairs),
        method_output_tokens_mean=statistics.fmean(m for _, m in pairs),
    )


def read_lengths(path: str | Path) -> OutputLengths:
    """Output lengths from an evaluation `report.json`; InputError naming the file if unusable."""
    from pydantic import ValidationError

    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    if not path.is_file():
        raise InputError(f"{path}: evaluation report not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not a JSON evaluation report ({err})") from err
    try:
        return output_lengths(data, str(path))
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(report)"
        raise InputError(f"{path}: not an evaluation report: field {field!r}: {first['msg']}") from err


# --------------------------------------------------------------------------- measuring primitives


def _sync(device: Any) -> None:
    import torch

    if getattr(device, "type", str(device)) == "cuda":
        torch.cuda.synchronize(device)


def _malloc_trim() -> None:
    """Hand freed heap memory back to the OS (glibc only; a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Context manager measuring the peak memory increase of a block (see the module docstring)."""

    def __init__(self, device: Any) -> None:
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        self.device = device
        self.base = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        gc.collect()
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            self.peak = self.base
            return self
        import psutil

        _malloc_trim()
        self._process = psutil.Process()
        self.base = self.peak = self._process.memory_info().rss
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="negsamp-rss", daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        process = self._process
        while not self._stop.wait(RSS_SAMPLE_S):
            rss = process.memory_info().rss
            if rss > self.peak:
                self.peak = rss

    def __exit__(self, *exc: object) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)

    @property
    def increase(self) -> int:
        return max(0, int(self.peak - self.base))


def measure_bandwidth(device: Any = "cpu", *, nbytes: int | None = None, repeats: int = BANDWIDTH_REPEATS) -> Bandwidth:
    """Memory bandwidth from a large tensor copy: best (bytes read + written) / seconds."""
    import torch

    device = torch.device(device)
    cuda = device.type == "cuda"
    nbytes = nbytes or (BANDWIDTH_BYTES_CUDA if cuda else BANDWIDTH_BYTES_CPU)
    n = max(1, nbytes // 4)
    src = torch.ones(n, dtype=torch.float32, device=device)  # written once: pages are really there
    dst = torch.zeros_like(src)
    dst.copy_(src)  # warm-up
    samples = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        elapsed = time.perf_counter() - start
        samples.append(2 * n * 4 / max(elapsed, 1e-9))
    del src, dst
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return Bandwidth(device=device.type, copy_bytes=n * 4, bytes_per_s=max(samples), samples_bytes_per_s=samples)


def weight_bytes(model: Any) -> int:
    """Bytes of the model's parameters; tied/shared tensors are counted once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():  # parameters() already yields a shared Parameter once
        key = p.data_ptr()
        if key in seen:
            continue
        seen.add(key)
        total += p.nelement() * p.element_size()
    return total


def synthetic_prompt(tokenizer: Any, model: Any, batch_size: int, prompt_len: int, seed: int) -> Any:
    """`batch_size` x `prompt_len` random token ids (seeded), never a special token."""
    import torch

    vocab = int(model.config.vocab_size)
    try:
        vocab = min(vocab, len(tokenizer))
    except TypeError:
        pass
    special = set(getattr(tokenizer, "all_special_ids", None) or [])
    for attr in ("bos_token_id", "eos_token_id", "pad_token_id"):
        value = getattr(model.config, attr, None)
        if value is not None:
            special.update(value if isinstance(value, (list, tuple)) else [value])
    allowed = torch.tensor([i for i in range(vocab) if i not in special], dtype=torch.long)
    if len(allowed) == 0:
        raise InputError("the model's vocabulary has no non-special token")
    generator = torch.Generator().manual_seed(seed * 1_000_003 + batch_size)
    picks = torch.randint(len(allowed), (batch_size, prompt_len), generator=generator)
    return allowed[picks]


def run_once(model: Any, method: Any, input_ids: Any, gen_len: int) -> dict[str, float | int]:
    """One timed prefill + fixed-length greedy decode under `method` (see the module docstring)."""
    import torch

    from negsamp.kvcache import kv_bytes

    device = model.device
    size, prompt_len = input_ids.shape
    input_ids = input_ids.to(device)
    position_ids = torch.arange(prompt_len, device=device).unsqueeze(0).expand(size, -1)
    with torch.inference_mode(), PeakMemory(device) as memory:
        cache = method.make_cache(model, size)
        _sync(device)
        start = time.perf_counter()
        with method.compression(model):
            out = model(input_ids=input_ids, position_ids=position_ids, past_key_values=cache, logits_to_keep=1)
        _sync(device)
        prefilled = time.perf_counter()
        next_tokens = out.logits[:, -1, :].argmax(-1)
        next_tokens.tolist()  # the first token is on the host
        first = time.perf_counter()
        bytes_prefill = kv_bytes(cache)
        positions = torch.full((size, 1), prompt_len, dtype=torch.long, device=device)
        del out
        _sync(device)
        decode_start = time.perf_counter()
        for _ in range(gen_len - 1):
            out = model(input_ids=next_tokens.unsqueeze(-1), position_ids=positions, past_key_values=cache)
            positions = positions + 1
            next_tokens = out.logits[:, -1, :].argmax(-1)
            next_tokens.tolist()  # a server checks stop conditions on the host every step
        _sync(device)
        decode_end = time.perf_counter()
        bytes_end = kv_bytes(cache)
        del cache
    return {
        "prefill_s": prefilled - start,
        "ttft_s": first - start,
        "decode_s": decode_end - decode_start,
        "kv_bytes_prefill": int(bytes_prefill),
        "kv_bytes_end": int(bytes_end),
        "peak_mem_bytes": memory.increase,
        "peak_mem_total_bytes": int(memory.peak),
    }


# --------------------------------------------------------------------------- figures


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


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
        prefill_tok_s=_ratio(method.prefill_tok_s.median, baseline.prefill_tok_s.median),
        decode_tok_s=_ratio(method.decode_tok_s.median, baseline.decode_tok_s.median),
        ttft_s=_ratio(method.ttft_s.median, baseline.ttft_s.median),
        tpot_s=_ratio(method.tpot_s.median, baseline.tpot_s.median),
        peak_mem_bytes=_ratio(method.peak_mem_bytes.median, baseline.peak_mem_bytes.median),
        kv_bytes_prefill=_ratio(method.kv_bytes_prefill, baseline.kv_bytes_prefill),
        kv_bytes_end=_ratio(method.kv_bytes_end, baseline.kv_bytes_end),
        roofline_fraction=_ratio(method.roofline_fraction, baseline.roofline_fraction),
    )


def request_seconds(figures: SideFigures, output_tokens: float) -> float:
    """Per-request time: TTFT + (L - 1) * TPOT, medians; L - 1 floored at 0."""
    return figures.ttft_s.median + max(output_tokens - 1.0, 0.0) * figures.tpot_s.median


def end_to_end(method: SideFigures, baseline: SideFigures, lengths: OutputLengths) -> EndToEnd:
    lb, lm = lengths.baseline_output_tokens_mean, lengths.method_output_tokens_mean
    tb, tm = request_seconds(baseline, lb), request_seconds(method, lm)
    return EndToEnd(
        baseline_output_tokens=lb, method_output_tokens=lm, output_length_ratio=_ratio(lm, lb),
        baseline_request_s=tb, method_request_s=tm, request_time_ratio=_ratio(tm, tb),
        decode_speedup=_ratio(method.decode_tok_s.median, baseline.decode_tok_s.median),
        end_to_end_speedup=_ratio(tb, tm),
    )


def summarise(results: Sequence[BatchResult]) -> str:
    """One line: the ratios at the smallest batch size the method ran at."""
    for r in results:
        if r.ratios is None:
            continue
        q = r.ratios
        parts = [f"batch {r.batch_size}: decode x{_fmt(q.decode_tok_s)}", f"prefill x{_fmt(q.prefill_tok_s)}",
                 f"TTFT x{_fmt(q.ttft_s)}", f"KV x{_fmt(q.kv_bytes_end)}", f"peak mem x{_fmt(q.peak_mem_bytes)}"]
        if r.end_to_end is not None:
            parts.append(f"end-to-end x{_fmt(r.end_to_end.end_to_end_speedup)} "
                         f"(output length x{_fmt(r.end_to_end.output_length_ratio)})")
        return "method/baseline " + ", ".join(parts)
    return "method not measured"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- the measurement


def _reporter(progress: bool | Callable[[str], Any] | None) -> Callable[[str], Any]:
    if callable(progress):
        return progress
    if progress:
        return lambda message: print(message, file=sys.stderr, flush=True)
    return lambda message: None


def _resolve_device(device: str) -> Any:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise InputError(f"device={device!r} must be auto, cpu or cuda[:N]")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("device=cuda asked for, but torch sees no CUDA device")
    return torch.device(device)


def _resolve_dtype(dtype: str, device: Any) -> Any:
    import torch

    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if dtype not in names:
        raise InputError(f"dtype={dtype!r} must be auto, {', '.join(names)}")
    return names[dtype]


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
    """Measure the baseline and `method_spec` on `model_name`, interleaved; see the module docstring.

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


def measure_for_report(report: Any, *, progress: bool | Callable[[str], Any] | None = True) -> dict:
    """A throughput run for an evaluation report's model and method, with its own output lengths.

    Modest sizes (prompt 512, 32 generated tokens, batch sizes 1 and 4 — 1 only for
    methods that do not batch — 3 repeats after 1 warm-up) so it takes about a
    minute for the bundled model on CPU. Returns the `ThroughputReport` as a JSON
    dict plus `table` (the text table) and `ratio` for `EvaluationReport.throughput`.

    `ratio` is the one number the leaderboard shows: the end-to-end speed-up at
    batch size 1 (per-request time with each side's measured output lengths,
    baseline / method), or the decode tok/s ratio when no lengths are known.
    """
    from negsamp.methods import parse_method

    if getattr(report, "source", None) != "method":
        raise InputError("a throughput run needs a method negsamp ran (not scored --predictions)")
    method = parse_method(report.method)
    sizes = [1, 4] if method.supports_batching else [1]
    result = measure_throughput(
        report.model, method, batch_sizes=sizes, prompt_len=REPORT_PROMPT_LEN, gen_len=REPORT_GEN_LEN,
        repeats=REPORT_REPEATS, warmup=REPORT_WARMUP,
        lengths_report=output_lengths(report, "this evaluation report"), progress=progress,
    )
    return {**result.model_dump(mode="json"), "table": format_table(result), "ratio": headline_ratio(result)}


def headline_ratio(result: ThroughputReport) -> float | None:
    """End-to-end speed-up at the smallest batch size, else its decode tok/s ratio."""
    measured = [b for b in result.results if b.ratios is not None]
    if not measured:
        return None
    first = min(measured, key=lambda b: b.batch_size)
    if first.end_to_end is not None and first.end_to_end.end_to_end_speedup is not None:
        return first.end_to_end.end_to_end_speedup
    return first.ratios.decode_tok_s


def load_throughput(data: dict | str | Path) -> ThroughputReport:
    """A `ThroughputReport` from throughput.json, or from `EvaluationReport.throughput`."""
    if isinstance(data, (str, Path)):
        data = json.loads(Path(data).read_text(encoding="utf-8"))
    data = {k: v for k, v in dict(data).items() if k not in ("table", "ratio")}
    return ThroughputReport.model_validate(data)


# --------------------------------------------------------------------------- output


def _bytes(value: float | None) -> str:
    if value is None:
        return "n/a"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"


def _spread(stat: Stat) -> str:
    return f"±{100 * stat.spread / 2:.0f}%"


def format_table(report: ThroughputReport) -> str:
    """The text table the CLI prints (and throughput.txt holds)."""
    r = report
    head = ["batch", "side", "prefill tok/s", "decode tok/s", "TTFT ms", "TPOT ms", "KV prefill", "KV end",
            "peak mem", "roofline"]
    rows: list[list[str]] = []

    def side_row(size: int, name: str, f: SideFigures) -> list[str]:
        return [str(size), name,
                f"{f.prefill_tok_s.median:.1f} {_spread(f.prefill_tok_s)}",
                f"{f.decode_tok_s.median:.1f} {_spread(f.decode_tok_s)}",
                f"{1000 * f.ttft_s.median:.1f}", f"{1000 * f.tpot_s.median:.2f}",
                _bytes(f.kv_bytes_prefill), _bytes(f.kv_bytes_end), _bytes(f.peak_mem_bytes.median),
                f"{100 * f.roofline_fraction:.1f}%"]

    for res in r.results:
        rows.append(side_row(res.batch_size, "baseline", res.baseline))
        if res.method is None:
            rows.append([str(res.batch_size), "method", "skipped (see notes)"] + [""] * 7)
            continue
        rows.append(side_row(res.batch_size, "method", res.method))
        q = res.ratios
        assert q is not None
        rows.append(["", "ratio", f"x{_fmt(q.prefill_tok_s)}", f"x{_fmt(q.decode_tok_s)}", f"x{_fmt(q.ttft_s)}",
                     f"x{_fmt(q.tpot_s)}", f"x{_fmt(q.kv_bytes_prefill)}", f"x{_fmt(q.kv_bytes_end)}",
                     f"x{_fmt(q.peak_mem_bytes)}", f"x{_fmt(q.roofline_fraction)}"])
    widths = [max(len(head[i]), *(len(row[i]) for row in rows)) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [
        f"throughput: {r.model}, method {r.method} vs baseline {r.baseline}",
        f"device {r.device}, {r.dtype}; prompt {r.prompt_len} tokens, {r.gen_len} generated (EOS ignored); "
        f"median of {r.repeats} interleaved repeats after {r.warmup} warm-up (± half the min-max range)",
        f"memory bandwidth {r.bandwidth.bytes_per_s / 1e9:.1f} GB/s (copy of {_bytes(r.bandwidth.copy_bytes)}); "
        f"weights {_bytes(r.weight_bytes)}; roofline = bandwidth / (weights + mean KV) x batch",
        "",
        line(head),
        line(["-" * w for w in widths]),
        *(line(row) for row in rows),
    ]
    e2e = [res for res in r.results if res.end_to_end is not None]
    if e2e and r.lengths is not None:
        L = r.lengths
        out += ["", f"end to end, with output lengths from {L.source} ({L.samples} samples, "
                    f"method {L.method}): request time = TTFT + (L - 1) x TPOT"]
        for res in e2e:
            e = res.end_to_end
            assert e is not None
            out.append(
                f"  batch {res.batch_size}: L baseline {e.baseline_output_tokens:.1f}, method "
                f"{e.method_output_tokens:.1f} (x{_fmt(e.output_length_ratio)}); request "
                f"{1000 * e.baseline_request_s:.0f} ms -> {1000 * e.method_request_s:.0f} ms; "
                f"decode speed-up x{_fmt(e.decode_speedup)}, end-to-end speed-up x{_fmt(e.end_to_end_speedup)}"
            )
    out += ["", f"peak mem: {r.memory_measure}"]
    for note in r.notes:
        out.append(f"note: {note}")
    out += ["", r.summary]
    return "\n".join(out)


def plot_throughput(report: ThroughputReport, path: str | Path) -> Path:
    """Decode and prefill tok/s against batch size, baseline vs method (min-max bars, rooflines dotted)."""
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    path = Path(path)
    panels = [("decode_tok_s", "decode tokens/s"), ("prefill_tok_s", "prefill tokens/s")]
    has_e2e = any(r.end_to_end for r in report.results)
    fig, axes = plt.subplots(1, len(panels) + has_e2e, figsize=(5.2 * (len(panels) + has_e2e), 4.2))
    styles = {"baseline": {"color": "tab:blue", "marker": "o"}, "method": {"color": "tab:red", "marker": "s"}}
    labels = {"baseline": f"baseline ({report.baseline})", "method": report.method}
    for ax, (field, title) in zip(axes, panels):
        for side in ("baseline", "method"):
            pts = [(r.batch_size, getattr(r, side)) for r in report.results if getattr(r, side) is not None]
            if not pts:
                continue
            shift = 0.97 if side == "baseline" else 1.03  # side by side where both were measured
            xs = [x * shift for x, _ in pts]
            stats = [getattr(f, field) for _, f in pts]
            meds = [s.median for s in stats]
            yerr = [[m - s.min for m, s in zip(meds, stats)], [s.max - m for m, s in zip(meds, stats)]]
            ax.errorbar(xs, meds, yerr=yerr, capsize=3, label=labels[side], **styles[side])
            if field == "decode_tok_s":
                ax.plot(xs, [f.roofline_decode_tok_s for _, f in pts], linestyle=":", marker="_",
                        markersize=14, color=styles[side]["color"], label=f"{side} roofline")
        ax.set_title(title)
        ax.set_xlabel("batch size")
        ax.set_ylabel("tokens/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(report.batch_sizes, [str(b) for b in report.batch_sizes])
        ax.grid(alpha=0.3)
        if field == "decode_tok_s" and any(r.method for r in report.results):
            ax.set_yscale("log")  # rooflines sit far above CPU figures
            plain = FuncFormatter(lambda value, _pos: f"{value:g}")
            ax.yaxis.set_major_formatter(plain)
            low, high = ax.get_ylim()
            ax.yaxis.set_minor_formatter(plain if high < 30 * low else NullFormatter())
        ax.legend(fontsize=7)
    if has_e2e:
        ax = axes[-1]
        pts = [r for r in report.results if r.end_to_end]
        xs = [r.batch_size for r in pts]
        ax.plot(xs, [1000 * r.end_to_end.baseline_request_s for r in pts], label=labels["baseline"],
                **styles["baseline"])
        ax.plot(xs, [1000 * r.end_to_end.method_request_s for r in pts], label=labels["method"],
                **styles["method"])
        ax.set_title("end to end: TTFT + (L-1) x TPOT")
        ax.set_xlabel("batch size")
        ax.set_ylabel("ms per request")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(b) for b in xs])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{report.model}: {report.device}, prompt {report.prompt_len}, gen {report.gen_len}",
                 fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)
    return path


def write_throughput(report: ThroughputReport, out_dir: str | Path) -> dict[str, Path]:
    """Write throughput.json, throughput.txt (the table) and throughput.png to `out_dir`."""
    from negsamp.runs import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "throughput.json", "table": out / "throughput.txt", "plot": out / "throughput.png"}
    atomic_write_text(paths["json"], report.model_dump_json(indent=1) + "\n")
    atomic_write_text(paths["table"], format_table(report) + "\n")
    plot_throughput(report, paths["plot"])
    return paths
