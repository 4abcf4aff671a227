"""Baseline-vs-method throughput: what a compression method buys (and costs) in speed and memory.

`measure_throughput(model, method, ...)` runs the uncompressed baseline (`none`) and
the method in the same process, on the same model weights and the same synthetic
prompts, interleaved, after a warm-up, and reports medians with their spread and the
ratios method / baseline of those medians. Absolute numbers on a shared, noisy
machine move from minute to minute; ratios of interleaved runs hold much better.

One run (one side, one batch size):

- the prompt: `batch_size` rows of exactly `prompt_len` random token ids (seeded,
  special tokens excluded), identical for both sides, no padding; the last
  `question_len` tokens are the question;
- the run goes through the engine `evaluate` uses (`negsamp.backends.hf.run_rows`):
  the same prefill (for `compress=context`, the context under compression, then the
  question uncompressed), the same cache class, the same batching; the first token
  is chosen (argmax) and fetched to the host;
- decode: exactly `gen_len - 1` more greedy steps (`ignore_eos`), each token fetched
  to the host (as a server checking stop conditions does), so both sides do the same work.

Figures of one run:

- `prefill_s`: the prefill forward; prefill tok/s = batch * prompt_len / prefill_s;
- `ttft_s` (time to first token) = prefill forward + choosing and fetching the first token;
- `decode_s`: the `gen_len - 1` decode steps; decode tok/s = batch * (gen_len - 1) / decode_s;
  TPOT (time per output token, per request) = decode_s / (gen_len - 1);
- KV bytes after the prefill and at the end (`negsamp.kvcache.kv_bytes`, on the device
  the cache lives on; whole batch, the sum of what the engine charges each row, which is
  what `evaluate` records per sample);
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

Where things live (everything below is re-exported here):

- `report`: the pydantic models of `throughput.json` (`ThroughputReport`, `Stat`,
  `RunRecord`, `SideFigures`, `Ratios`, `EndToEnd`, `BatchResult`, `OutputLengths`,
  `Bandwidth`), `THROUGHPUT_VERSION`, `BASELINE_SPEC`, `Side`;
- `options`: argument checks (`parse_batch_sizes`, device, dtype, progress);
- `lengths`: output lengths from an evaluation report (`output_lengths`, `read_lengths`);
- `primitives`: one timed run (`run_once`, a thin call of the engine), synthetic prompts, peak memory
  (`PeakMemory`), memory bandwidth (`measure_bandwidth`), weight bytes;
- `figures`: medians, ratios and the end-to-end maths (`side_figures`, `ratios`,
  `request_seconds`, `end_to_end`);
- `measure`: `measure_throughput`, the interleaved schedule of runs, `ThroughputError`;
- `for_report`: `measure_for_report` (the run attached to an evaluation report) and
  `headline_ratio` (the leaderboard's number);
- `render`: the text table (`format_table`) and the one-line `summarise`;
- `plot`: `plot_throughput` (throughput.png);
- `files`: `write_throughput` and `load_throughput`.

Tunables (`BANDWIDTH_BYTES_CPU`, `RSS_SAMPLE_S`, `REPORT_PROMPT_LEN`, ...) are read
from the submodule that defines them: patch them there, not on this package.
"""

from negsamp.throughput.figures import end_to_end, ratios, request_seconds, side_figures
from negsamp.throughput.files import load_throughput, write_throughput
from negsamp.throughput.for_report import (
    REPORT_GEN_LEN,
    REPORT_PROMPT_LEN,
    REPORT_REPEATS,
    REPORT_WARMUP,
    headline_ratio,
    measure_for_report,
)
from negsamp.throughput.lengths import output_lengths, read_lengths
from negsamp.throughput.measure import ThroughputError, measure_throughput
from negsamp.throughput.options import parse_batch_sizes
from negsamp.throughput.plot import plot_throughput
from negsamp.throughput.primitives import (
    BANDWIDTH_BYTES_CPU,
    BANDWIDTH_BYTES_CUDA,
    BANDWIDTH_REPEATS,
    MEMORY_MEASURE_CPU,
    MEMORY_MEASURE_CUDA,
    RSS_SAMPLE_S,
    PeakMemory,
    measure_bandwidth,
    run_once,
    synthetic_prompt,
    weight_bytes,
)
from negsamp.throughput.render import format_table, summarise
from negsamp.throughput.report import (
    BASELINE_SPEC,
    THROUGHPUT_VERSION,
    AttachedThroughput,
    Bandwidth,
    BatchResult,
    EndToEnd,
    OutputLengths,
    Ratios,
    RunRecord,
    Side,
    SideFigures,
    Stat,
    ThroughputReport,
)

__all__ = [
    "BANDWIDTH_BYTES_CPU",
    "BANDWIDTH_BYTES_CUDA",
    "BANDWIDTH_REPEATS",
    "BASELINE_SPEC",
    "MEMORY_MEASURE_CPU",
    "MEMORY_MEASURE_CUDA",
    "REPORT_GEN_LEN",
    "REPORT_PROMPT_LEN",
    "REPORT_REPEATS",
    "REPORT_WARMUP",
    "RSS_SAMPLE_S",
    "THROUGHPUT_VERSION",
    "AttachedThroughput",
    "Bandwidth",
    "BatchResult",
    "EndToEnd",
    "OutputLengths",
    "PeakMemory",
    "Ratios",
    "RunRecord",
    "Side",
    "SideFigures",
    "Stat",
    "ThroughputError",
    "ThroughputReport",
    "end_to_end",
    "format_table",
    "headline_ratio",
    "load_throughput",
    "measure_bandwidth",
    "measure_for_report",
    "measure_throughput",
    "output_lengths",
    "parse_batch_sizes",
    "plot_throughput",
    "ratios",
    "read_lengths",
    "request_seconds",
    "run_once",
    "side_figures",
    "summarise",
    "synthetic_prompt",
    "weight_bytes",
    "write_throughput",
]
