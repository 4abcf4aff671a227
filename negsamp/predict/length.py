"""Length predictor: how much a method lengthens (or shortens) a sample's output.

From run stores (`negsamp.runs`), every sample answered by both the baseline (`none`) and a
method of the same model gives one row: the target is `log(method tokens / baseline tokens)`
and the features are what is known before the method runs: the task, the prompt's tokens,
the baseline's own output length and whether it stopped at end-of-sequence, and the method
(one column per method spec seen in the fit). A KV-fraction column (bytes kept / baseline
bytes) was tried and dropped: for KIVI it falls with the prompt length (the full-precision
residual matters less), so the trees split on it as a proxy for prompt length and mixed
methods up.

The model is a small gradient-boosted tree ensemble, depth 2 (few, readable splits;
`importances` says which features it used), on the Huber loss: squared near the fit, absolute
beyond, so a few runaway generations (hitting max_new_tokens) do not drag every prediction.
Plain absolute error does not work here: sklearn's trees see a zero gradient wherever the
ratio equals the current median, which with many unchanged lengths (ratio exactly 1) stops
them from splitting at all.
Its held-out error is measured by grouped K-fold (all of one sample's rows in the same fold,
so a sample never helps predict itself under another method) and printed next to a
constant-ratio baseline: each method's median ratio over the training folds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from negsamp.errors import InputError

LENGTH_VERSION = 1
BASELINE = "none"
FOLDS = 5
TREES = dict(loss="huber", n_estimators=150, max_depth=2, learning_rate=0.05, min_samples_leaf=5, random_state=0)


@dataclass(frozen=True)
class LengthRow:
    """One sample under one method, with its baseline's figures."""

    sample_id: str
    model: str
    task: str
    method: str
    prompt_tokens: int
    baseline_tokens: int
    baseline_eos: bool
    method_tokens: int = 0

    @property
    def log_ratio(self) -> float:
        return math.log(max(self.method_tokens, 1) / max(self.baseline_tokens, 1))


def read_run_stores(paths: Sequence[str | Path]) -> list[LengthRow]:
    """Pair every method's predictions with the baseline's, per model, over the run stores."""
    from negsamp.runs import RunStore

    baseline: dict[tuple[str, str], object] = {}
    others = []
    for path in paths:
        if not Path(path).is_dir():
            raise InputError(f"{path}: not a run store folder")
        for run in RunStore(path).runs():
            rows = run.predictions()
            if run.method == BASELINE:
                baseline.update({(run.model, p.sample_id): p for p in rows})
            else:
                others.extend(rows)
    pairs = []
    for p in others:
        b = baseline.get((p.model, p.sample_id))
        if b is not None:
            pairs.append(LengthRow(p.sample_id, p.model, p.task, p.method, p.prompt_tokens,
                                   b.output_tokens, b.hit_eos, p.output_tokens))
    if not pairs:
        raise InputError(f"{', '.join(map(str, paths))}: no sample answered by both the baseline "
                         "(method none) and another method of the same model")
    return pairs


class LengthModel:
    """Fitted trees plus the category levels their columns stand for."""

    def __init__(self, tasks: list[str], methods: list[str]) -> None:
        self.tasks, self.methods = tasks, methods
        self.trees = None

    @property
    def columns(self) -> list[str]:
        return (["log_prompt_tokens", "log_baseline_tokens", "baseline_eos"]
                + [f"task={t}" for t in self.tasks] + [f"method={k}" for k in self.methods])

    def design(self, rows: Sequence[LengthRow]) -> np.ndarray:
        out = []
        for r in rows:
            out.append([math.log(max(r.prompt_tokens, 1)), math.log(max(r.baseline_tokens, 1)),
                        float(r.baseline_eos)]
                       + [float(r.task == t) for t in self.tasks] + [float(r.method == m) for m in self.methods])
        return np.array(out)

    def fit(self, rows: Sequence[LengthRow]) -> LengthModel:
        from sklearn.ensemble import GradientBoostingRegressor

        self.trees = GradientBoostingRegressor(**TREES).fit(self.design(rows), [r.log_ratio for r in rows])
        return self

    def ratio(self, rows: Sequence[LengthRow]) -> np.ndarray:
        """Predicted method/baseline output-length ratio of each row."""
        return np.exp(self.trees.predict(self.design(rows)))

    def importances(self) -> dict[str, float]:
        return {c: round(float(v), 4) for c, v in zip(self.columns, self.trees.feature_importances_, strict=True)}


def fit_length(rows: Sequence[LengthRow]) -> LengthModel:
    return LengthModel(sorted({r.task for r in rows}), sorted({r.method for r in rows})).fit(rows)


def constant_ratio(train: Sequence[LengthRow], test: Sequence[LengthRow]) -> np.ndarray:
    """The baseline predictor: each method's median ratio in `train` (1 for unseen methods)."""
    by_method: dict[str, list[float]] = {}
    for r in train:
        by_method.setdefault(r.method, []).append(r.log_ratio)
    return np.array([math.exp(float(np.median(by_method[r.method]))) if r.method in by_method else 1.0
                     for r in test])


class LengthErrors(BaseModel):
    """Held-out error of the length predictor and of the constant-ratio baseline."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = LENGTH_VERSION
    """Schema version."""
    rows: int
    """(sample, method) rows evaluated, each held out once."""
    samples: int
    """Distinct samples."""
    methods: list[str]
    """Methods seen."""
    folds: int
    """Grouped folds (by sample)."""
    mae_tokens: float
    """Mean absolute error of the predicted method output tokens."""
    mae_tokens_constant: float
    """Same, constant-ratio baseline."""
    mae_log_ratio: float
    """Mean |predicted - true| of log(method/baseline tokens)."""
    mae_log_ratio_constant: float
    """Same, constant-ratio baseline."""
    mean_ratio: float
    """Mean true ratio (method/baseline tokens)."""
    importances: dict[str, float]
    """Feature importances of the model fitted on all rows."""
    by_method: dict[str, list[float]]
    """Per method: [rows, MAE log ratio of the trees, of the constant ratio, mean true ratio]."""


def heldout_length_errors(rows: Sequence[LengthRow], folds: int = FOLDS) -> LengthErrors:
    """Grouped K-fold errors of the trees and of the constant-ratio baseline."""
    from sklearn.model_selection import GroupKFold

    rows = list(rows)
    groups = [r.sample_id for r in rows]
    n_groups = len(set(groups))
    if n_groups < 2:
        raise InputError(f"only {n_groups} sample(s) with a baseline: need at least 2 to hold any out")
    folds = min(folds, n_groups)
    ours, const = np.zeros(len(rows)), np.zeros(len(rows))
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(rows, groups=groups):
        train, test = [rows[i] for i in train_idx], [rows[i] for i in test_idx]
        ours[test_idx] = fit_length(train).ratio(test)
        const[test_idx] = constant_ratio(train, test)
    base = np.array([r.baseline_tokens for r in rows], dtype=float)
    true = np.array([r.method_tokens for r in rows], dtype=float)
    log_true = np.array([r.log_ratio for r in rows])
    return LengthErrors(
        rows=len(rows), samples=n_groups, methods=sorted({r.method for r in rows}), folds=folds,
        mae_tokens=float(np.mean(np.abs(ours * base - true))),
        mae_tokens_constant=float(np.mean(np.abs(const * base - true))),
        mae_log_ratio=float(np.mean(np.abs(np.log(ours) - log_true))),
        mae_log_ratio_constant=float(np.mean(np.abs(np.log(const) - log_true))),
        mean_ratio=float(np.mean(true / np.maximum(base, 1))), importances=fit_length(rows).importances(),
        by_method=_by_method(rows, np.abs(np.log(ours) - log_true), np.abs(np.log(const) - log_true)),
    )


def _by_method(rows: Sequence[LengthRow], ours: np.ndarray, const: np.ndarray) -> dict[str, list[float]]:
    out = {}
    for method in sorted({r.method for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.method == method]
        ratio = float(np.mean([math.exp(rows[i].log_ratio) for i in idx]))
        out[method] = [len(idx), float(np.mean(ours[idx])), float(np.mean(const[idx])), ratio]
    return out


def format_length_errors(e: LengthErrors) -> str:
    return "\n".join([
        f"length predictor: {e.rows} rows ({e.samples} samples, methods {', '.join(e.methods)}), "
        f"{e.folds}-fold grouped by sample; mean true ratio {e.mean_ratio:.3f}",
        f"{'':<22} {'trees':>8} {'constant ratio':>15}",
        f"{'MAE output tokens':<22} {e.mae_tokens:>8.3f} {e.mae_tokens_constant:>15.3f}",
        f"{'MAE log ratio':<22} {e.mae_log_ratio:>8.4f} {e.mae_log_ratio_constant:>15.4f}",
        *(f"  {m:<40} rows {int(v[0]):>4}  MAE log ratio {v[1]:.4f} vs {v[2]:.4f}  mean ratio {v[3]:.3f}"
          for m, v in e.by_method.items()),
        "importances: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(e.importances.items(),
                                                                      key=lambda kv: -kv[1]) if v > 0),
    ])


def expected_ratio(model: LengthModel, rows: Sequence[LengthRow], method: str, prompt_tokens: int) -> float:
    """Mean predicted ratio of `method` over the distinct baseline samples in `rows`, at this prompt length."""
    seen: dict[tuple[str, str], LengthRow] = {}
    for r in rows:
        seen.setdefault((r.model, r.sample_id), r)
    queries = [LengthRow(r.sample_id, r.model, r.task, method, prompt_tokens, r.baseline_tokens, r.baseline_eos)
               for r in seen.values()]
    return float(np.mean(model.ratio(queries)))


def measured_ratio(rows: Sequence[LengthRow], method: str) -> float | None:
    """Mean measured method/baseline ratio of `method` in `rows` (None if it has no rows)."""
    ratios = [r.method_tokens / max(r.baseline_tokens, 1) for r in rows if r.method == method]
    return float(np.mean(ratios)) if ratios else None
