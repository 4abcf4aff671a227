"""Throughput predictor: roofline features with a small fitted correction, per method and stage.

Per batch (prefill) or per step (decoding), time is a non-negative combination of roofline
terms, each in seconds at the hardware's peak (`negsamp.predict.roofline`):

- decoding: `t = c0 * T_weights + c1 * T_gemm(bsz) + c2 * T_kv(bsz, L)`, with
  `T_weights` = weight bytes / bandwidth (one read of every weight per step), `T_gemm` = the
  step's matmul FLOPs / peak FLOP/s, `T_kv` = the KV bytes the step reads under the method
  / bandwidth. The method enters through `T_kv`: a quantized cache reads fewer bytes per
  token, an eviction method's reads stop growing at its budget.
- prefill: `t = c0 * T_weights + c1 * (T_gemm(bsz, L) + alpha * T_attn(bsz, L))`: matmul
  FLOPs grow with the tokens, attention FLOPs with `bsz * L^2`. `alpha` is how much slower
  than a matmul FLOP an attention FLOP runs on this engine and GPU; it is a property of the
  attention kernel, so it is fitted once per attention kind (fused, or eager for methods that
  read attention weights) over every method of that kind in the fit data.

The `c` are the fitted correction (1 = at the roofline; a correction of 2 on `T_kv` means the
KV is read at half the peak bandwidth). They are fitted by least *absolute* relative error
(iteratively reweighted least squares): the metric is a mean absolute percentage error, and
repeated measurements show a skewed spread (one repeat in four runs ~6% slow in the paper's
data), which a squared loss chases and a median fit does not.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from negsamp.errors import InputError
from negsamp.predict.points import Point
from negsamp.predict.roofline import (
    Hardware,
    MethodCost,
    ModelShape,
    decode_step_costs,
    method_cost,
    prefill_flops,
)

MODEL_VERSION = 1
# Candidate attention factors: 0.25x to 16x a matmul FLOP's time, log-spaced.
ALPHA_GRID = tuple(float(a) for a in np.geomspace(0.25, 16.0, 49))
IRLS_ITERATIONS = 60
BASELINE_LABELS = ("none", "None-16")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class StageFit(_Model):
    """The fitted correction of one method at one stage."""

    method: str
    """Method label as in the fit data."""
    stage: Literal["prefill", "decoding"]
    """`prefill` or `decoding`."""
    alpha: float
    """Attention FLOP cost relative to a matmul FLOP (prefill only; 0 for decoding)."""
    coef: list[float]
    """Fitted multipliers of the roofline terms (see the module docstring for their order)."""
    points: int
    """Measurements fitted."""
    fit_mape: float
    """Mean absolute relative error of time on the fitted points, percent."""


class ThroughputModel(_Model):
    """A fitted throughput predictor for one model on one accelerator."""

    version: Literal[1] = MODEL_VERSION
    """Schema version."""
    model: str
    """Model shape name the roofline used."""
    hardware: str
    """Accelerator whose peaks scale the roofline terms."""
    fits: list[StageFit]
    """One entry per (method, stage) in the fit data."""


def features(shape: ModelShape, hw: Hardware, cost: MethodCost, stage: str, bsz: int, length: int,
             alpha: float) -> np.ndarray:
    """Roofline terms, in seconds at peak, of one prefill or one decode step."""
    t_weights = shape.weight_bytes() / hw.bandwidth
    if stage == "prefill":
        gemm, attn = prefill_flops(shape, bsz, length)
        return np.array([t_weights, (gemm + alpha * attn) / hw.peak_flops])
    gemm, kv = decode_step_costs(shape, cost, bsz, length)
    return np.array([t_weights, gemm / hw.peak_flops, kv / hw.bandwidth])


def fit_relative_l1(design: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the mean |design @ c - t| / t (IRLS, floors tiny residuals)."""
    from scipy.optimize import nnls

    a = design / seconds[:, None]
    scale = np.abs(a).max(axis=0)
    scale[scale == 0] = 1.0
    a = a / scale
    ones = np.ones(len(seconds))
    weights = ones.copy()
    coef = np.zeros(a.shape[1])
    for _ in range(IRLS_ITERATIONS):
        coef, _ = nnls(a * weights[:, None], weights)
        weights = 1.0 / np.sqrt(np.maximum(np.abs(a @ coef - ones), 1e-3))
    return coef / scale


def _mape(predicted: np.ndarray, seconds: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - seconds) / seconds) * 100)


def _design(points: list[Point], shape: ModelShape, hw: Hardware, alpha: float) -> np.ndarray:
    return np.array([features(shape, hw, method_cost(p.method), p.stage, p.bsz, p.prompt_len, alpha)
                     for p in points])


def _fit_one(points: list[Point], shape: ModelShape, hw: Hardware, alpha: float) -> StageFit:
    design = _design(points, shape, hw, alpha)
    seconds = np.array([p.seconds for p in points])
    peak = np.abs(design).max(axis=0)
    if np.linalg.matrix_rank(design / np.where(peak > 0, peak, 1.0)) < design.shape[1]:
        # Too few distinct (batch, length) configurations to separate the terms (one batch size,
        # or one prompt length): fit one multiplier on the whole roofline time instead.
        scale = fit_relative_l1(design.sum(axis=1, keepdims=True), seconds)[0]
        coef = np.full(design.shape[1], scale)
    else:
        coef = fit_relative_l1(design, seconds)
    return StageFit(method=points[0].method, stage=points[0].stage, alpha=alpha, coef=[float(c) for c in coef],
                    points=len(points), fit_mape=_mape(design @ coef, seconds))


def _best_alpha(groups: list[list[Point]], shape: ModelShape, hw: Hardware) -> float:
    """The attention factor with the least summed fit error over the groups (methods) sharing a kernel."""
    def total(alpha: float) -> float:
        return sum(_fit_one(g, shape, hw, alpha).fit_mape for g in groups)

    return min(ALPHA_GRID, key=total)


def fit_throughput(points: list[Point], shape: ModelShape, hw: Hardware) -> ThroughputModel:
    """Fit every (method, stage) in `points`."""
    by_key: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for p in points:
        by_key[(p.method, p.stage)].append(p)
    by_kernel: dict[str, list[list[Point]]] = defaultdict(list)
    for (method, stage), group in by_key.items():
        if stage == "prefill":
            by_kernel[method_cost(method).attention].append(group)
    alphas = {kernel: _best_alpha(groups, shape, hw) for kernel, groups in by_kernel.items()}
    fits = []
    for (method, stage), group in sorted(by_key.items()):
        alpha = alphas[method_cost(method).attention] if stage == "prefill" else 0.0
        fits.append(_fit_one(group, shape, hw, alpha))
    return ThroughputModel(model=shape.name, hardware=hw.name, fits=fits)


def _fit_for(model: ThroughputModel, method: str, stage: str) -> tuple[StageFit, bool]:
    """The method's own fit, else the baseline's (the method's roofline terms, the baseline's correction)."""
    fits = {(f.method, f.stage): f for f in model.fits}
    if (method, stage) in fits:
        return fits[(method, stage)], False
    for label in BASELINE_LABELS:
        if (label, stage) in fits:
            return fits[(label, stage)], True
    known = sorted({f.method for f in model.fits if f.stage == stage})
    raise InputError(f"no {stage} fit for method {method!r} and no baseline (none) to transfer from; "
                     f"fitted: {', '.join(known) or 'nothing'}")


def predict_seconds(model: ThroughputModel, shape: ModelShape, hw: Hardware, query: Point) -> tuple[float, bool]:
    """(Seconds of the prefill batch or decode step, whether the baseline's fit was transferred)."""
    fit, transferred = _fit_for(model, query.method, query.stage)
    row = features(shape, hw, method_cost(query.method), query.stage, query.bsz, query.prompt_len, fit.alpha)
    return float(row @ np.array(fit.coef)), transferred


def predict_thr(model: ThroughputModel, shape: ModelShape, hw: Hardware, queries: list[Point]) -> list[float]:
    """Tokens per second for each query (prefill: prompt tokens; decoding: generated tokens)."""
    out = []
    for q in queries:
        seconds, _ = predict_seconds(model, shape, hw, q)
        tokens = q.bsz * q.prompt_len if q.stage == "prefill" else q.bsz
        out.append(tokens / seconds if seconds > 0 else float("nan"))
    return out
