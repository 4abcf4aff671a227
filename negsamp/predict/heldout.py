"""Held-out error of the throughput predictor, next to a plain cost model fitted the same way.

Error is the mean absolute relative error of *time* (prefill: `bsz * len / thr`, decoding:
`bsz / thr`), the measure the paper's authors checked their own predictor with (the README of
`throughput_a6000`); it is computed over every held-out measurement, repeats included.

The plain cost model (issue 14): per-step time linear in `(1, bsz, bsz*len)` for decoding and
in `(1, bsz*len, bsz*len^2)` for prefill, least squares on relative error, per method and stage.

Two protocols:

- `extrapolate`: fit on prompts up to `max_len`, predict every longer one;
- `leave_one_batch_out`: for each batch size, fit on the others and predict it; the error is
  the mean over the batch sizes (each held out once).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from negsamp.predict.points import Point
from negsamp.predict.roofline import Hardware, ModelShape
from negsamp.predict.throughput import fit_throughput, predict_seconds

Predictor = Callable[[list[Point], list[Point]], np.ndarray]


@dataclass
class HeldOut:
    """One (method, stage): held-out error of ours and of the plain cost model, percent."""

    method: str
    stage: str
    ours: float
    plain: float
    points: int


def plain_features(p: Point) -> list[float]:
    if p.stage == "decoding":
        return [1.0, p.bsz, p.bsz * p.prompt_len]
    return [1.0, p.bsz * p.prompt_len, p.bsz * float(p.prompt_len) ** 2]


def plain_predict(train: list[Point], test: list[Point]) -> np.ndarray:
    """The plain cost model: least squares on relative error (rows divided by the measured time)."""
    seconds = np.array([p.seconds for p in train])
    design = np.array([plain_features(p) for p in train])
    scale = np.abs(design).max(axis=0)
    coef, *_ = np.linalg.lstsq(design / scale / seconds[:, None], np.ones(len(train)), rcond=None)
    return np.array([plain_features(p) for p in test]) @ (coef / scale)


def roofline_predictor(shape: ModelShape, hw: Hardware) -> Predictor:
    def run(train: list[Point], test: list[Point]) -> np.ndarray:
        model = fit_throughput(train, shape, hw)
        return np.array([predict_seconds(model, shape, hw, q)[0] for q in test])
    return run


def _mape(predicted: np.ndarray, test: list[Point]) -> float:
    seconds = np.array([p.seconds for p in test])
    return float(np.mean(np.abs(predicted - seconds) / seconds) * 100)


def _by_key(points: list[Point]) -> dict[tuple[str, str], list[Point]]:
    groups: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for p in points:
        groups[(p.method, p.stage)].append(p)
    return groups


def _split_errors(points: list[Point], held: Callable[[Point], bool], ours: Predictor) -> dict:
    """{(method, stage): (our error, plain error, n)} for one train/test split.

    Ours is fitted on every method's training points together (the attention factor is shared
    across methods of one kernel); the plain model per method and stage, as specified.
    """
    train = [p for p in points if not held(p)]
    out = {}
    for key, group in _by_key(points).items():
        test = [p for p in group if held(p)]
        fit_rows = [p for p in group if not held(p)]
        if not test or len(fit_rows) < 3:
            continue
        scope = [p for p in train if p.stage == key[1]]
        out[key] = (_mape(ours(scope, test), test), _mape(plain_predict(fit_rows, test), test), len(test))
    return out


def extrapolate(points: list[Point], max_len: int, shape: ModelShape, hw: Hardware) -> list[HeldOut]:
    """Fit on prompts <= max_len, predict the longer ones."""
    errors = _split_errors(points, lambda p: p.prompt_len > max_len, roofline_predictor(shape, hw))
    return [HeldOut(m, s, o, b, n) for (m, s), (o, b, n) in sorted(errors.items())]


def leave_one_batch_out(points: list[Point], shape: ModelShape, hw: Hardware) -> list[HeldOut]:
    """Each batch size held out once; errors averaged over the batch sizes."""
    ours = roofline_predictor(shape, hw)
    collected: dict[tuple[str, str], list[tuple[float, float, int]]] = defaultdict(list)
    for bsz in sorted({p.bsz for p in points}):
        for key, value in _split_errors(points, lambda p, b=bsz: p.bsz == b, ours).items():
            collected[key].append(value)
    return [HeldOut(m, s, float(np.mean([v[0] for v in vals])), float(np.mean([v[1] for v in vals])),
                    sum(v[2] for v in vals))
            for (m, s), vals in sorted(collected.items())]


def default_max_len(points: list[Point]) -> int:
    """Hold out prompts longer than 2/3 of the longest: the extrapolation a user asks for."""
    return int(max(p.prompt_len for p in points) * 2 / 3)


def format_heldout(title: str, rows: list[HeldOut]) -> str:
    lines = [title, f"{'method':<24} {'stage':<9} {'ours %':>7} {'plain %':>8} {'points':>6}"]
    for r in rows:
        lines.append(f"{r.method:<24} {r.stage:<9} {r.ours:>7.2f} {r.plain:>8.2f} {r.points:>6}")
    if not rows:
        lines.append("  (nothing to hold out: need points on both sides of the split)")
    return "\n".join(lines)
