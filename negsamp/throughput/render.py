"""Text output: the table the CLI prints (throughput.txt) and the one-line summary."""

from __future__ import annotations

from collections.abc import Sequence

from negsamp.display import short_method
from negsamp.throughput.report import BatchResult, SideFigures, Stat, ThroughputReport


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
        f"throughput: {r.model}, method {short_method(r.method)} vs baseline {r.baseline}",
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
    out += ["", f"peak mem: {r.memory_measure}", *(f"note: {note}" for note in r.notes), "", r.summary]
    return "\n".join(out)
