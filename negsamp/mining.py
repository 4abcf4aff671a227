"""The paper's negative-sample rule, exactly, on a long score table.

A score table is a polars DataFrame with one row per (task, sample, method):

    task (str) | sample_id (any hashable dtype) | method (str) | score (float in [0, 1])

One method is the uncompressed baseline (named by `baseline`). Per task, with
baseline scores ``b`` and a compared method's scores ``o``:

- ``THR`` is the median (default; the paper's Figure 5) or the mean (the paper's
  released dataset) of the task's baseline scores, computed with numpy exactly as
  the paper's scripts do (`np.median`: the mean of the two middle values for an
  even count; `np.mean`: pairwise summation over the scores in sample_id order).
  polars' own median/mean differ from numpy's in the last bit for some inputs,
  which moves samples across ``b >= THR``, so they are not used.
- a sample is *baseline good* iff ``b >= THR`` (inclusive), and, when
  `min_baseline` is set, also ``b >= min_baseline``;
- it is *negative* for a method iff it is baseline good and
  ``not (b * (1 - t) < o)``, evaluated in float64 in exactly that form: ``1 - t``
  first, then the product, then the comparison. Ties count as negative. Rewriting
  it (``b - o >= t * b``, ``o / b <= 1 - t``, ...) changes counts at boundary
  values such as ``b = 1.0, o = 0.92, t = 0.08``;
- mode ``"all"`` (the paper's "Sparse (C)", "Quant (C)"): negative for every
  compared method; mode ``"any"``: for at least one.

Only numpy and polars are used here: no model, torch or metric code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from negsamp.errors import InputError, UnknownNameError

SCORE_COLUMNS = ("task", "sample_id", "method", "score")
BASELINE = "none"
"""The uncompressed baseline's name: the `none` method's spec, as every run store and dataset names it."""
STATISTICS = ("median", "mean")
MODES = ("all", "any")
# Columns of the `negatives()` result besides one score column per compared method.
NEGATIVE_COLUMNS = ("task", "sample_id", "baseline_score", "threshold")
_RESERVED_COLUMNS = (*NEGATIVE_COLUMNS, "good", "negative")

Statistic = Literal["median", "mean"]
Mode = Literal["all", "any"]


class MiningRule(BaseModel):
    """Everything that decides which samples are negative. A dataset build records it in its card."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = 1
    """Version of this rule's definition; bumped if the meaning of any field changes."""

    baseline: str = BASELINE
    """Name of the uncompressed reference method in the score table's `method` column."""

    statistic: Statistic = "median"
    """Per-task baseline threshold THR: `median` (paper's Figure 5) or `mean` (paper's released dataset)."""

    t: float = Field(default=0.10, ge=0.0, le=1.0)
    """Relative drop: negative for a method iff `not (b * (1 - t) < o)` in float64 (ties are negative)."""

    mode: Mode = "all"
    """`all`: negative for every compared method (the paper's "(C)" sets); `any`: for at least one."""

    min_baseline: float | None = Field(default=None, ge=0.0, le=1.0)
    """Extra guard: a sample also needs baseline score `b >= min_baseline` (inclusive) to count.

    None (the paper's rule) adds no guard. Any positive value drops samples the
    baseline scored 0, which the median rule otherwise counts as negative on
    tasks whose median baseline score is 0 (LongBench passage_count): there
    `b = 0 >= THR = 0` and `not (0 < o)` holds whenever the method scores 0 too.
    """

    def is_good(self, b: float, threshold: float) -> bool:
        """One sample's "baseline good": `b >= THR`, and `b >= min_baseline` when set."""
        return b >= threshold and (self.min_baseline is None or b >= self.min_baseline)

    def is_negative(self, b: float, o: float) -> bool:
        """One sample's drop test for one method: `not (b * (1 - t) < o)` in float64, in exactly
        that form (the scalar twin of `_negative_per_method`; goodness is checked separately)."""
        return not (float(b) * (1.0 - self.t) < float(o))


@dataclass(frozen=True)
class MiningResult:
    """What `mine` returns: the negatives, the per-task thresholds and counts, and warnings."""

    rule: MiningRule
    methods: tuple[str, ...]
    negatives: pl.DataFrame
    """One row per negative sample: task, sample_id, baseline_score, threshold, one score column per method."""
    counts: pl.DataFrame
    """One row per task: task, threshold, n (baseline samples), n_good (baseline good), negatives."""
    warnings: tuple[str, ...]
    """Human-readable notes, e.g. tasks whose threshold is 0 (see `MiningRule.min_baseline`)."""


# --------------------------------------------------------------------------- validation


def _check_choice(value: str, known: Sequence[str], what: str) -> None:
    if value not in known:
        raise UnknownNameError(f"unknown {what} {value!r}; known: {', '.join(known)}")


def _check_t(t: float) -> float:
    t = float(t)
    if not (0.0 <= t <= 1.0):
        raise InputError(f"threshold t={t!r} is outside [0, 1] (t is a fraction: 0.10 means 10%)")
    return t


def _check_min_baseline(min_baseline: float | None) -> float | None:
    if min_baseline is None:
        return None
    value = float(min_baseline)
    if not (0.0 <= value <= 1.0):
        raise InputError(f"min_baseline={min_baseline!r} is outside [0, 1]")
    return value


def _describe_rows(frame: pl.DataFrame, limit: int = 5) -> str:
    rows = frame.head(limit).iter_rows(named=True)
    text = "; ".join(", ".join(f"{k}={v!r}" for k, v in row.items()) for row in rows)
    if frame.height > limit:
        text += f"; ... ({frame.height} rows in all)"
    return text


@dataclass(frozen=True)
class _Aligned:
    """Baseline and compared scores as aligned numpy arrays, sorted by (task, sample_id)."""

    methods: tuple[str, ...]
    base: pl.DataFrame  # task, sample_id, baseline_score; sorted by (task, sample_id)
    tasks: list[str]  # task names, in order of their segments in `base`
    starts: np.ndarray  # start index of each task's segment
    sizes: np.ndarray  # number of samples per task
    task_index: np.ndarray  # (N,) per sample: index into `tasks`
    b: np.ndarray  # (N,) float64 baseline scores
    o: np.ndarray  # (K, N) float64 compared scores, rows in `methods` order

    def per_task(self, mask: np.ndarray) -> np.ndarray:
        """Sum a (..., N) array over each task's samples: (..., tasks)."""
        if not mask.shape[-1]:
            return np.zeros((*mask.shape[:-1], len(self.tasks)), dtype=np.int64)
        return np.add.reduceat(mask, self.starts, axis=-1, dtype=np.int64)


def _check_frame(scores: pl.DataFrame, methods: list[str], baseline: str) -> None:
    if not isinstance(scores, pl.DataFrame):
        raise InputError(f"score table must be a polars DataFrame, got {type(scores).__name__}")
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise InputError(
            f"score table lacks column(s) {', '.join(missing)}; it has {', '.join(scores.columns) or 'none'}"
        )
    for column in ("task", "method"):
        dtype = scores.schema[column]
        if not (dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)):
            raise InputError(f"score table column {column!r} must hold strings, has {dtype}")
    if not scores.schema["score"].is_numeric():
        raise InputError(f"score table column 'score' must be numeric, has {scores.schema['score']}")
    if len(set(methods)) != len(methods):
        raise InputError(f"compared methods repeat a name: {methods}")
    if baseline in methods:
        raise InputError(f"baseline {baseline!r} is also listed as a compared method")
    clash = [m for m in methods if m in _RESERVED_COLUMNS or m.startswith("neg:")]
    if clash:
        raise InputError(f"method name(s) {clash} clash with result columns {list(_RESERVED_COLUMNS)}")


def _align(scores: pl.DataFrame, methods: list[str], baseline: str) -> _Aligned:
    """Validate the rows of `baseline` and `methods` and align them by (task, sample_id).

    Tables laid out in blocks (each method's rows of a task contiguous, in the
    baseline's sample order, integer sample ids) take a fast path of a few numpy
    operations; any other layout takes a general path (one join). The slower,
    descriptive checks run only once a problem is known to exist, to word the error.
    """
    _check_frame(scores, methods, baseline)
    if any(scores.select(SCORE_COLUMNS).null_count().row(0)):
        _check_nulls(scores, [baseline, *methods])  # raises if the nulls are in rows we use
        return _align_general(scores, methods, baseline)
    aligned = _align_blocked(scores, methods, baseline)
    return aligned if aligned is not None else _align_general(scores, methods, baseline)


def _check_nulls(scores: pl.DataFrame, wanted: list[str]) -> None:
    rows = scores.select(SCORE_COLUMNS).filter(pl.col("method").cast(pl.String).is_in(wanted))
    nulls = rows.filter(pl.any_horizontal(pl.all().is_null()))
    if nulls.height:
        raise InputError(f"score table has null values in rows: {_describe_rows(nulls)}")


_MAX_BLOCKS = 4096  # beyond this many (method, task) runs the table counts as interleaved


def _align_blocked(scores: pl.DataFrame, methods: list[str], baseline: str) -> _Aligned | None:
    """The fast path; None when the table is not in the blocked layout (or has a problem)."""
    if not scores.schema["sample_id"].is_integer() or scores.height == 0:
        return None
    runs = scores.select(pl.col("method").rle_id(), pl.col("task").rle_id())
    m_run, t_run = runs.get_column("method").to_numpy(), runs.get_column("task").to_numpy()
    breaks = np.flatnonzero((m_run[1:] != m_run[:-1]) | (t_run[1:] != t_run[:-1])) + 1
    if breaks.size >= _MAX_BLOCKS:
        return None
    starts = np.concatenate([[0], breaks])
    ends = np.append(breaks, scores.height)
    run_methods = scores.get_column("method").cast(pl.String).gather(starts).to_list()
    run_tasks = scores.get_column("task").cast(pl.String).gather(starts).to_list()
    blocks: dict[tuple[str, str], tuple[int, int]] = {}
    for start, end, method, task in zip(starts.tolist(), ends.tolist(), run_methods, run_tasks):
        if (method, task) in blocks:
            return None  # a (method, task) split over several runs
        blocks[(method, task)] = (start, end)
    wanted = [baseline, *methods]
    tasks = sorted(task for method, task in blocks if method == baseline)
    if not tasks or any(m in wanted and t not in tasks for m, t in blocks):
        return None
    ranges = []
    for method in wanted:
        for task in tasks:
            if (method, task) not in blocks:
                return None
            ranges.append(blocks[(method, task)])
    sizes = np.array([end - start for start, end in ranges[: len(tasks)]], dtype=np.int64)
    if any(end - start != sizes[i % len(tasks)] for i, (start, end) in enumerate(ranges)):
        return None
    n = int(sizes.sum())
    perm = np.concatenate([np.arange(start, end) for start, end in ranges])
    sid = scores.get_column("sample_id").to_numpy()[perm].reshape(len(wanted), n)
    starts_b = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    increasing = sid[0, 1:] > sid[0, :-1]
    increasing[starts_b[1:] - 1] = True  # task boundaries may go down
    if not increasing.all() or not (sid[1:] == sid[0]).all():
        return None
    score = scores.get_column("score").cast(pl.Float64).to_numpy()[perm].reshape(len(wanted), n)
    if np.isnan(score).any() or (score < 0.0).any() or (score > 1.0).any():
        return None
    task_index = np.repeat(np.arange(len(tasks)), sizes)
    base = pl.DataFrame(
        [
            pl.Series("task", tasks, dtype=pl.String).gather(task_index),
            pl.Series("sample_id", sid[0], dtype=scores.schema["sample_id"]),
            pl.Series("baseline_score", score[0], dtype=pl.Float64),
        ]
    )
    return _Aligned(
        methods=tuple(methods),
        base=base,
        tasks=tasks,
        starts=starts_b,
        sizes=sizes,
        task_index=task_index,
        b=np.ascontiguousarray(score[0]),
        o=np.ascontiguousarray(score[1:]),
    )


def _align_general(scores: pl.DataFrame, methods: list[str], baseline: str) -> _Aligned:
    """Any row order: one Enum cast for method codes, one join for sample positions and
    numpy bincounts for coverage and duplicates."""
    wanted = [baseline, *methods]
    n_wanted = len(wanted)
    codes = (
        scores.get_column("method")
        .cast(pl.String)
        .cast(pl.Enum(wanted), strict=False)
        .to_physical()
        .fill_null(n_wanted)
        .to_numpy()
        .astype(np.int64)
    )
    per_method = np.bincount(codes, minlength=n_wanted + 1)
    for i, name in enumerate(wanted):
        if per_method[i] == 0:
            present = sorted(scores.get_column("method").cast(pl.String).drop_nulls().unique().to_list())
            what = "baseline" if i == 0 else "method"
            raise UnknownNameError(
                f"{what} {name!r} has no rows in the score table; methods present: {', '.join(present)}"
            )
    selected = codes < n_wanted
    frame = scores.select(pl.col("task").cast(pl.String), "sample_id", pl.col("score").cast(pl.Float64))
    score = frame.get_column("score").to_numpy()
    sel_score = score[selected]
    if np.isnan(sel_score).any() or (sel_score < 0.0).any() or (sel_score > 1.0).any():
        _raise_row_problems(scores, wanted)

    base = (
        frame.filter(pl.Series(codes == 0))
        .rename({"score": "baseline_score"})
        .sort("task", "sample_id", maintain_order=True)
    )
    if base.select(pl.struct("task", "sample_id").is_duplicated().any()).item():
        _raise_row_problems(scores, wanted)
    n = base.height
    pos = (
        frame.select("task", "sample_id")
        .join(
            base.select("task", "sample_id").with_row_index("pos"),
            on=["task", "sample_id"],
            how="left",
            maintain_order="left",
        )
        .get_column("pos")
        .fill_null(n)
        .to_numpy()
        .astype(np.int64)
    )
    compared = selected & (codes > 0)
    if (pos[compared] == n).any():
        _raise_row_problems(scores, wanted)  # a method has samples the baseline lacks
    k_idx, p_idx = codes[compared] - 1, pos[compared]
    coverage = np.bincount(k_idx * n + p_idx, minlength=len(methods) * n)
    if (coverage != 1).any():
        _raise_row_problems(scores, wanted)  # duplicates, or samples a method lacks
    o = np.empty((len(methods), n), dtype=np.float64)
    o[k_idx, p_idx] = score[compared]

    runs = base.get_column("task").rle()  # tasks are contiguous after the sort
    sizes = runs.struct.field("len").to_numpy().astype(np.int64)
    return _Aligned(
        methods=tuple(methods),
        base=base,
        tasks=runs.struct.field("value").to_list(),
        starts=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
        sizes=sizes,
        task_index=np.repeat(np.arange(len(sizes)), sizes),
        b=base.get_column("baseline_score").to_numpy().astype(np.float64),
        o=o,
    )


def _raise_row_problems(scores: pl.DataFrame, wanted: list[str]) -> None:
    """Find and describe what is wrong with the rows of `wanted` methods (the slow, wordy path)."""
    baseline, methods = wanted[0], wanted[1:]
    rows = scores.select(
        pl.col("task").cast(pl.String),
        "sample_id",
        pl.col("method").cast(pl.String),
        pl.col("score").cast(pl.Float64),
    ).filter(pl.col("method").is_in(wanted))
    nulls = rows.filter(pl.any_horizontal(pl.all().is_null()))
    if nulls.height:
        raise InputError(f"score table has null values in rows: {_describe_rows(nulls)}")
    nan = rows.filter(pl.col("score").is_nan())
    if nan.height:
        raise InputError(f"score table has NaN scores in rows: {_describe_rows(nan)}")
    out_of_range = rows.filter((pl.col("score") < 0.0) | (pl.col("score") > 1.0))
    if out_of_range.height:
        raise InputError(f"score table has scores outside [0, 1] in rows: {_describe_rows(out_of_range)}")
    keys = ["task", "sample_id"]
    dupes = rows.filter(pl.struct(*keys, "method").is_duplicated())
    if dupes.height:
        raise InputError(
            "score table has duplicate (task, sample_id, method) rows: "
            + _describe_rows(dupes.select(*keys, "method").unique(maintain_order=True))
        )
    base_keys = rows.filter(pl.col("method") == baseline).select(keys)
    for method in methods:
        own = rows.filter(pl.col("method") == method).select(keys)
        lacking = base_keys.join(own, on=keys, how="anti")
        if lacking.height:
            raise InputError(
                f"method {method!r} has no score for samples the baseline {baseline!r} has: "
                + _describe_rows(lacking)
            )
        extra = own.join(base_keys, on=keys, how="anti")
        if extra.height:
            raise InputError(
                f"baseline {baseline!r} has no score for samples method {method!r} has: "
                + _describe_rows(extra)
            )
    raise InputError("score table failed validation for an unidentified reason")  # pragma: no cover


def _task_thresholds(aligned: _Aligned, statistic: str) -> np.ndarray:
    """THR per task, with numpy's own median/mean (one call per task, as the paper's scripts)."""
    func = np.median if statistic == "median" else np.mean
    return np.array(
        [func(aligned.b[s : s + n]) for s, n in zip(aligned.starts, aligned.sizes)], dtype=np.float64
    )


def _good_mask(b: np.ndarray, thr_per_sample: np.ndarray, min_baseline: float | None) -> np.ndarray:
    good = b >= thr_per_sample
    if min_baseline is not None:
        good &= b >= min_baseline
    return good


def _negative_per_method(b: np.ndarray, o: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """(K, T, N) booleans: `not (b * (1 - t) < o)` in float64, in exactly that form."""
    one_minus_t = 1.0 - ts  # (T,) float64, as Python's `1 - t`
    product = one_minus_t[:, None] * b[None, :]  # (T, N): b * (1 - t), same IEEE product
    return ~(product[None, :, :] < o[:, None, :])


def _evaluate(aligned: _Aligned, rule: MiningRule):
    """thresholds per task and per sample, good mask, (K, N) per-method verdicts, combined verdict."""
    thr = _task_thresholds(aligned, rule.statistic)
    thr_per_sample = thr[aligned.task_index]
    good = _good_mask(aligned.b, thr_per_sample, rule.min_baseline)
    neg_m = _negative_per_method(aligned.b, aligned.o, np.array([rule.t], dtype=np.float64))[:, 0, :]
    combined = neg_m.all(axis=0) if rule.mode == "all" else neg_m.any(axis=0)
    return thr, thr_per_sample, good, neg_m, good & combined


def _zero_threshold_warnings(
    tasks: Sequence[str],
    thresholds: np.ndarray,
    statistic: str,
    min_baseline: float | None,
    zero_samples: np.ndarray,
) -> list[str]:
    notes = []
    for task, thr, zeros in zip(tasks, thresholds, zero_samples):
        if thr <= 0.0 and (min_baseline is None or min_baseline <= 0.0):
            notes.append(
                f"task {task!r}: {statistic} baseline score is {thr:g}, so its {int(zeros)} sample(s) "
                "the baseline scored 0 count as baseline-good and are negative wherever the method "
                "also scores 0; set min_baseline > 0 to exclude them"
            )
    return notes


def thresholds(
    scores: pl.DataFrame,
    baseline: str = BASELINE,
    statistic: Statistic = "median",
    *,
    min_baseline: float | None = None,
) -> pl.DataFrame:
    """Per task: the baseline threshold THR and how many baseline samples are good.

    Returns columns task, threshold, n (baseline samples), n_good (samples with
    `b >= THR`, and `b >= min_baseline` when set), zero_threshold (THR <= 0: see
    `MiningRule.min_baseline`). Sorted by task.
    """
    _check_choice(statistic, STATISTICS, "statistic")
    min_baseline = _check_min_baseline(min_baseline)
    aligned = _align(scores, [], baseline)
    thr = _task_thresholds(aligned, statistic)
    good = _good_mask(aligned.b, thr[aligned.task_index], min_baseline)
    return pl.DataFrame(
        {
            "task": aligned.tasks,
            "threshold": thr,
            "n": aligned.sizes,
            "n_good": aligned.per_task(good),
            "zero_threshold": thr <= 0.0,
        },
        schema={
            "task": pl.String,
            "threshold": pl.Float64,
            "n": pl.Int64,
            "n_good": pl.Int64,
            "zero_threshold": pl.Boolean,
        },
    )


def mine(scores: pl.DataFrame, methods: Sequence[str], rule: MiningRule | None = None) -> MiningResult:
    """Apply `rule` (default: the paper's median rule, t = 0.10, intersection) to `scores`."""
    rule = rule or MiningRule()
    methods = list(methods)
    if not methods:
        raise InputError("no compared methods given")
    aligned = _align(scores, methods, rule.baseline)
    thr, thr_per_sample, good, neg_m, is_negative = _evaluate(aligned, rule)

    full = aligned.base.with_columns(
        pl.Series("threshold", thr_per_sample, dtype=pl.Float64),
        *[pl.Series(m, aligned.o[i], dtype=pl.Float64) for i, m in enumerate(methods)],
    )
    negatives_frame = full.filter(pl.Series(is_negative)).select(*NEGATIVE_COLUMNS, *methods)
    counts = pl.DataFrame(
        {
            "task": aligned.tasks,
            "threshold": thr,
            "n": aligned.sizes,
            "n_good": aligned.per_task(good),
            "negatives": aligned.per_task(is_negative),
        },
        schema={
            "task": pl.String,
            "threshold": pl.Float64,
            "n": pl.Int64,
            "n_good": pl.Int64,
            "negatives": pl.Int64,
        },
    )
    zeros = aligned.per_task(aligned.b == 0.0)
    notes = _zero_threshold_warnings(aligned.tasks, thr, rule.statistic, rule.min_baseline, zeros)
    return MiningResult(rule, tuple(methods), negatives_frame, counts, tuple(notes))


def sample_flags(
    scores: pl.DataFrame, methods: Sequence[str], rule: MiningRule | None = None
) -> pl.DataFrame:
    """Every baseline sample with its verdicts under `rule` (for dataset builders).

    Columns: task, sample_id, baseline_score, threshold, good (baseline good),
    one boolean ``neg:<method>`` per compared method (good and negative for that
    method alone), negative (good and combined over the methods with
    `rule.mode`), and one score column per method. Sorted by (task, sample_id).
    """
    rule = rule or MiningRule()
    methods = list(methods)
    if not methods:
        raise InputError("no compared methods given")
    aligned = _align(scores, methods, rule.baseline)
    _, thr_per_sample, good, neg_m, is_negative = _evaluate(aligned, rule)
    return aligned.base.with_columns(
        pl.Series("threshold", thr_per_sample, dtype=pl.Float64),
        pl.Series("good", good, dtype=pl.Boolean),
        *[pl.Series(f"neg:{m}", good & neg_m[i], dtype=pl.Boolean) for i, m in enumerate(methods)],
        pl.Series("negative", is_negative, dtype=pl.Boolean),
        *[pl.Series(m, aligned.o[i], dtype=pl.Float64) for i, m in enumerate(methods)],
    )


def negatives(
    scores: pl.DataFrame,
    methods: Sequence[str],
    *,
    baseline: str = BASELINE,
    t: float = 0.10,
    statistic: Statistic = "median",
    mode: Mode = "all",
    min_baseline: float | None = None,
) -> pl.DataFrame:
    """One row per negative sample: task, sample_id, baseline_score, threshold, one score column per method.

    See the module docstring for the rule; `mine` also returns per-task counts and warnings.
    """
    rule = make_rule(baseline=baseline, t=t, statistic=statistic, mode=mode, min_baseline=min_baseline)
    return mine(scores, methods, rule).negatives


def make_rule(
    *,
    baseline: str = BASELINE,
    t: float = 0.10,
    statistic: str = "median",
    mode: str = "all",
    min_baseline: float | None = None,
) -> MiningRule:
    """Build a MiningRule, raising negsamp errors (not pydantic's) for bad values."""
    _check_choice(statistic, STATISTICS, "statistic")
    _check_choice(mode, MODES, "mode")
    return MiningRule(
        baseline=baseline,
        t=_check_t(t),
        statistic=statistic,
        mode=mode,
        min_baseline=_check_min_baseline(min_baseline),
    )


def count_sweep(
    scores: pl.DataFrame,
    method_sets: Mapping[str, Sequence[str]],
    ts: Sequence[float],
    statistics: Sequence[str] = ("median",),
    *,
    baseline: str = BASELINE,
    mode: Mode = "all",
    min_baseline: float | None = None,
) -> pl.DataFrame:
    """Negative counts per (statistic, method set, t, task), all at once.

    `method_sets` maps a label (e.g. "Sparse (C)") to the compared methods whose
    negatives are combined with `mode`. Returns a tidy frame with columns
    statistic, method_set, t, task, threshold, count — one row for every
    combination, zero counts included, in the order of the arguments (tasks
    sorted). Each method's comparison is evaluated once for all t, and every
    set and statistic reuses it.
    """
    _check_choice(mode, MODES, "mode")
    for statistic in statistics:
        _check_choice(statistic, STATISTICS, "statistic")
    min_baseline = _check_min_baseline(min_baseline)
    ts_arr = np.array([_check_t(t) for t in ts], dtype=np.float64)
    if not method_sets:
        raise InputError("no method sets given")
    all_methods: list[str] = []
    for label, members in method_sets.items():
        if not members:
            raise InputError(f"method set {label!r} is empty")
        for m in members:
            if m not in all_methods:
                all_methods.append(m)
    aligned = _align(scores, all_methods, baseline)
    column = {m: i for i, m in enumerate(all_methods)}

    neg_m = _negative_per_method(aligned.b, aligned.o, ts_arr)  # (K, T, N)
    set_labels = list(method_sets)
    combine = np.logical_and.reduce if mode == "all" else np.logical_or.reduce
    neg_sets = np.stack([combine(neg_m[[column[m] for m in method_sets[s]]], axis=0) for s in set_labels])

    n_tasks, n_sets, n_ts = len(aligned.tasks), len(set_labels), len(ts_arr)
    labels = pl.Series("method_set", set_labels, dtype=pl.String)
    task_names = pl.Series("task", aligned.tasks, dtype=pl.String)
    frames = []
    for statistic in statistics:
        thr = _task_thresholds(aligned, statistic)
        good = _good_mask(aligned.b, thr[aligned.task_index], min_baseline)
        counts = aligned.per_task(neg_sets & good)  # (S, T, tasks)
        frames.append(
            pl.DataFrame(
                [
                    pl.Series("statistic", [statistic], dtype=pl.String).gather(
                        np.zeros(counts.size, np.int64)
                    ),
                    labels.gather(np.repeat(np.arange(n_sets), n_ts * n_tasks)),
                    pl.Series("t", np.tile(np.repeat(ts_arr, n_tasks), n_sets), dtype=pl.Float64),
                    task_names.gather(np.tile(np.arange(n_tasks), n_sets * n_ts)),
                    pl.Series("threshold", np.tile(thr, n_sets * n_ts), dtype=pl.Float64),
                    pl.Series("count", counts.reshape(-1), dtype=pl.Int64),
                ]
            )
        )
    return pl.concat(frames)


def sweep_warnings(sweep: pl.DataFrame, min_baseline: float | None = None) -> list[str]:
    """Notes for tasks whose threshold is 0 in a `count_sweep` result (one per statistic and task)."""
    if min_baseline is not None and min_baseline > 0.0:
        return []
    zero = sweep.filter(pl.col("threshold") <= 0.0).select("statistic", "task").unique(maintain_order=True)
    return [
        f"task {row['task']!r}: {row['statistic']} baseline score is 0, so samples the baseline scored 0 "
        "count as baseline-good and are negative wherever the method also scores 0; "
        "set min_baseline > 0 to exclude them"
        for row in zero.iter_rows(named=True)
    ]
