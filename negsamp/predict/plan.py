"""`negsamp plan`: the end-to-end estimate the paper argues for, for one model, method and load.

A method's real cost is its throughput times the output-length change it causes (Gao et al.,
MLSys 2025). The plan puts together:

1. memory: KV bytes per sequence at the end of a request (prompt + output), baseline vs method;
2. the batch that then fits in the accelerator's memory (weights + KV, 10% reserve);
3. throughput at the asked batch and at the batch that fits (the fitted predictor where fit data
   is given, transferring the baseline's correction to a method it has no data for; the bare
   roofline at peak otherwise), with the measured figure next to it where the fit data has one;
4. the expected length change (the length predictor on run stores, or a ratio given by hand);
5. end to end: requests per second of a batch, `bsz / (prefill + out_tokens * decode_step)`,
   decode steps taken at the mean KV length of the request (`prompt + out_tokens / 2`).
"""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import BaseModel, ConfigDict

from negsamp.predict.points import Point
from negsamp.predict.roofline import Hardware, ModelShape, batch_that_fits, method_cost
from negsamp.predict.throughput import StageFit, ThroughputModel, predict_seconds

PLAN_VERSION = 1
BASELINE = "none"
# Without fit data every roofline term runs at the peak: a bound, not a prediction.
ROOFLINE_ONLY = ThroughputModel(model="", hardware="", fits=[
    StageFit(method=BASELINE, stage="prefill", alpha=1.0, coef=[1.0, 1.0], points=0, fit_mape=0.0),
    StageFit(method=BASELINE, stage="decoding", alpha=0.0, coef=[1.0, 1.0, 1.0], points=0, fit_mape=0.0),
])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Side(_Model):
    """One configuration (method, batch) of the plan."""

    method: str
    """Method spec or label."""
    batch: int
    """Sequences served together."""
    kv_bytes_per_seq: float
    """KV bytes of one sequence at the end of a request."""
    prefill_tok_s: float
    """Predicted prompt tokens per second."""
    decode_tok_s: float
    """Predicted generated tokens per second, all sequences (at the request's mean KV length)."""
    measured_prefill_tok_s: float | None
    """Median measured prefill tok/s at this batch and prompt length in the fit data, if any."""
    measured_decode_tok_s: float | None
    """Median measured decode tok/s at this batch and prompt length in the fit data, if any."""
    output_tokens: float
    """Output tokens per request (the baseline's, times the length ratio for the method)."""
    requests_per_s: float
    """batch / (prefill + output_tokens * decode step)."""


class Plan(_Model):
    """`negsamp plan`: memory, batch, throughput, length and the end-to-end estimate."""

    version: Literal[1] = PLAN_VERSION
    """Schema version."""
    model: str
    """Model shape used."""
    hardware: str
    """Accelerator of the roofline."""
    memory_bytes: float
    """Memory budget for weights + KV."""
    prompt_len: int
    """Prompt tokens per request."""
    source: str
    """Where the throughput figures come from (fitted, transferred from the baseline, roofline only)."""
    length_ratio: float
    """Expected method/baseline output length."""
    length_source: str
    """Where the length ratio comes from."""
    measured_length_ratio: float | None
    """Mean measured ratio of the method in the run stores, if any."""
    kv_saved_fraction: float
    """1 - method KV bytes / baseline KV bytes, per sequence."""
    baseline_batch_fits: int
    """Largest baseline batch that fits in memory."""
    method_batch_fits: int
    """Largest method batch that fits in memory."""
    baseline: Side
    """The baseline at the asked batch."""
    method: Side
    """The method at the asked batch."""
    method_at_fit: Side
    """The method at the batch that fits (capped at max_batch)."""
    speedup_same_batch: float
    """Method requests/s over the baseline's, same batch, output lengths counted."""
    speedup_at_fit: float
    """Method requests/s at the batch that fits over the baseline's at the asked batch."""


def _measured(points: list[Point], method: str, stage: str, bsz: int, length: int) -> float | None:
    values = [p.thr for p in points if (p.method, p.stage, p.bsz, p.prompt_len) == (method, stage, bsz, length)]
    return float(statistics.median(values)) if values else None


def plan_side(ctx: dict, method: str, batch: int, output_tokens: float) -> Side:
    """Predict one (method, batch): throughput, KV and requests per second."""
    model, shape, hw, length = ctx["model"], ctx["shape"], ctx["hw"], ctx["prompt_len"]
    kv_len = int(round(length + output_tokens / 2))
    prefill_s, _ = predict_seconds(model, shape, hw, Point(method, batch, length, "prefill"))
    step_s, _ = predict_seconds(model, shape, hw, Point(method, batch, kv_len, "decoding"))
    points = ctx["points"]
    return Side(
        method=method, batch=batch,
        kv_bytes_per_seq=method_cost(method).kv_bytes(shape, int(length + output_tokens)),
        prefill_tok_s=batch * length / prefill_s, decode_tok_s=batch / step_s,
        measured_prefill_tok_s=_measured(points, method, "prefill", batch, length),
        measured_decode_tok_s=_measured(points, method, "decoding", batch, length),
        output_tokens=output_tokens, requests_per_s=batch / (prefill_s + output_tokens * step_s),
    )


def _source(model: ThroughputModel, method: str) -> str:
    if model is ROOFLINE_ONLY:
        return "roofline only (no fit data: every term at the hardware's peak, summed; optimistic)"
    fitted = {f.method for f in model.fits}
    if method in fitted:
        return f"fitted on {sum(f.points for f in model.fits if f.method == method)} measurements of {method}"
    return f"no data for {method}: its roofline terms with the baseline's fitted correction"


def make_plan(shape: ModelShape, hw: Hardware, method: str, batch: int, prompt_len: int, *,
              output_tokens: float, length_ratio: float, length_source: str,
              measured_length_ratio: float | None = None, model: ThroughputModel | None = None,
              points: list[Point] | None = None, memory_bytes: float | None = None,
              max_batch: int = 256) -> Plan:
    """The whole plan; `model` None means roofline only."""
    model = model or ROOFLINE_ONLY
    memory = memory_bytes or hw.memory_bytes
    baseline_label = next((f.method for f in model.fits if f.method in ("none", "None-16")), BASELINE)
    ctx = dict(model=model, shape=shape, hw=hw, prompt_len=prompt_len, points=points or [])
    end = int(prompt_len + output_tokens * max(length_ratio, 1.0))
    fits_b = batch_that_fits(shape, method_cost(baseline_label), end, memory)
    fits_m = batch_that_fits(shape, method_cost(method), end, memory)
    base = plan_side(ctx, baseline_label, batch, output_tokens)
    same = plan_side(ctx, method, batch, output_tokens * length_ratio)
    at_fit = plan_side(ctx, method, max(1, min(fits_m, max_batch)), output_tokens * length_ratio)
    kv_base = method_cost(baseline_label).kv_bytes(shape, end)
    return Plan(
        model=shape.name, hardware=hw.name, memory_bytes=memory, prompt_len=prompt_len,
        source=_source(model, method), length_ratio=length_ratio, length_source=length_source,
        measured_length_ratio=measured_length_ratio,
        kv_saved_fraction=1 - method_cost(method).kv_bytes(shape, end) / kv_base,
        baseline_batch_fits=fits_b, method_batch_fits=fits_m, baseline=base, method=same,
        method_at_fit=at_fit, speedup_same_batch=same.requests_per_s / base.requests_per_s,
        speedup_at_fit=at_fit.requests_per_s / base.requests_per_s,
    )


def _gib(value: float) -> str:
    return f"{value / 2**30:.3f} GiB"


def _side_line(label: str, s: Side) -> str:
    measured = ""
    if s.measured_prefill_tok_s or s.measured_decode_tok_s:
        measured = (f"  [measured: prefill {s.measured_prefill_tok_s or float('nan'):.0f}, "
                    f"decode {s.measured_decode_tok_s or float('nan'):.1f}]")
    return (f"{label:<26} batch {s.batch:>4}  prefill {s.prefill_tok_s:>9.0f} tok/s  decode {s.decode_tok_s:>8.1f} tok/s"
            f"  out {s.output_tokens:>7.1f} tok  {s.requests_per_s:>8.3f} req/s{measured}")


def format_plan(p: Plan) -> str:
    lines = [
        f"plan: {p.model} on {p.hardware} ({_gib(p.memory_bytes)} budget), prompt {p.prompt_len} tokens",
        f"throughput source: {p.source}",
        f"KV per sequence at the end: baseline {_gib(p.baseline.kv_bytes_per_seq)}, "
        f"{p.method.method} {_gib(p.method.kv_bytes_per_seq)} (saves {p.kv_saved_fraction:.1%})",
        f"batch that fits: baseline {p.baseline_batch_fits}, {p.method.method} {p.method_batch_fits}",
        f"length ratio {p.length_ratio:.3f} ({p.length_source})"
        + (f"; measured {p.measured_length_ratio:.3f}" if p.measured_length_ratio is not None else ""),
        _side_line("baseline", p.baseline),
        _side_line("method, same batch", p.method),
        _side_line("method, batch that fits", p.method_at_fit),
        f"end to end: {p.speedup_same_batch:.3f}x the baseline's requests/s at the same batch, "
        f"{p.speedup_at_fit:.3f}x at the batch that fits",
    ]
    return "\n".join(lines)
