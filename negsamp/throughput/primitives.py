"""Measuring primitives: one timed run, synthetic prompts, peak memory, memory bandwidth, weight bytes."""

from __future__ import annotations

import ctypes
import gc
import threading
import time
from typing import Any

from negsamp.errors import InputError
from negsamp.throughput.report import Bandwidth

RSS_SAMPLE_S = 0.002
"""Interval of the CPU resident-set-size sampler (seconds)."""

BANDWIDTH_BYTES_CPU = 256 * 2**20
"""Size of the tensor copied to measure CPU memory bandwidth."""
BANDWIDTH_BYTES_CUDA = 1024 * 2**20
"""Size of the tensor copied to measure GPU memory bandwidth."""
BANDWIDTH_REPEATS = 7
"""Copies timed; the best one counts."""


MEMORY_MEASURE_CPU = (
    "peak RSS increase over the run (psutil RSS sampled every 2 ms in a background thread, "
    "after gc.collect() and malloc_trim(0)); weights excluded; a lower bound of the true peak"
)
MEMORY_MEASURE_CUDA = (
    "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus the bytes "
    "allocated at the start of the run; weights excluded"
)


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
    """Context manager measuring the peak memory increase of a block (see the `negsamp.throughput` docstring)."""

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


def run_once(model: Any, method: Any, input_ids: Any, gen_len: int, split: int) -> dict[str, float | int]:
    """One timed prefill + fixed-length greedy decode under `method`, through the engine
    (`negsamp.backends.hf.run_rows`, as `evaluate` runs it; see the `negsamp.throughput` docstring).

    `split`: where each row's question starts (methods with `compress=context` compress
    only the tokens before it). End-of-sequence is ignored: exactly `gen_len` tokens a row.
    """
    from negsamp.backends.hf import Row, run_rows

    rows = [Row(ids, split, gen_len) for ids in input_ids.tolist()]
    with PeakMemory(model.device) as memory:
        # no row stops early, so no padding token is ever fed: any id will do
        results, timings = run_rows(model, method, rows, eos=set(), pad_id=0, ignore_eos=True)
    return {
        "prefill_s": timings.prefill_s,
        "ttft_s": timings.ttft_s,
        "decode_s": timings.decode_s,
        "kv_bytes_prefill": sum(r.kv_bytes_prefill for r in results),
        "kv_bytes_end": sum(r.kv_bytes_end for r in results),
        "peak_mem_bytes": memory.increase,
        "peak_mem_total_bytes": int(memory.peak),
    }
