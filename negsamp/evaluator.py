"""The Negative Sample Evaluator: does a method fix the samples known methods break, at what cost?

A method is evaluated on a negative-sample dataset's `negative` and `control`
splits, with the dataset's own prompts and model. Per sample, with `b` the
dataset's baseline score, `o` the new method's score and `t` the dataset's rule:

- a negative is *recovered* iff `b * (1 - t) < o` (it is no longer negative);
- a control sample is *retained* iff `b * (1 - t) < o` (it stays good).

Both use the mining rule's exact float64 form (`negsamp.mining`). Next to them
the report puts what the method really costs and saves: KV bytes held after
prefill relative to the baseline's (measured from the cache tensors in both
runs), and output lengths relative to the baseline's, since compression can
make outputs longer and eat its own throughput gains.
"""

from __future__ import annotations

import math
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from negsamp import __version__
from negsamp.errors import InputError
from negsamp.formats import first_error, ratio
from negsamp.mining import MiningRule
from negsamp.throughput.report import AttachedThroughput

REPORT_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class SampleResult(_Model):
    """The new method on one dataset sample."""

    sample_id: str
    """Dataset sample id."""
    split: Literal["negative", "control"]
    """Which split the sample is in."""
    task: str
    """Task name."""
    category: str
    """Task category."""
    baseline_score: float
    """The dataset's baseline score b."""
    score: float
    """The new method's score o (recomputed from `prediction`)."""
    good: bool
    """`b * (1 - t) < o`: recovered (negative split) or retained (control split)."""
    prediction: str
    """The new method's output text."""
    output_tokens: int | None
    """Output tokens of the new method, when known."""
    baseline_output_tokens: int
    """Output tokens of the dataset's baseline."""
    kv_bytes_prefill: int | None
    """KV bytes after prefill of the new method (measured), when it was run here."""
    baseline_kv_bytes_prefill: int
    """KV bytes after prefill of the dataset's baseline (measured at build time)."""


class GroupStats(_Model):
    """Every number of the report for one group of samples (a task, a category, or all)."""

    group: str
    """Task name, category name, or `overall`."""
    negatives: int
    """Negative samples in the group."""
    recovered: int
    """Negatives the method recovered."""
    recovery_rate: float | None
    """recovered / negatives (None without negatives)."""
    control: int
    """Control samples in the group."""
    control_retained: int
    """Control samples that stayed good."""
    control_retention: float | None
    """control_retained / control (None without control samples)."""
    mean_score: float
    """Mean score of the method over negative and control samples."""
    mean_baseline_score: float
    """Mean baseline score over the same samples."""
    relative_score: float | None
    """mean_score / mean_baseline_score (None when the baseline mean is 0)."""
    kv_kept: float | None
    """Mean over samples of method KV bytes / baseline KV bytes after prefill (None if not measured)."""
    output_tokens_mean: float | None
    """Mean output tokens of the method (None if unknown)."""
    baseline_output_tokens_mean: float
    """Mean output tokens of the baseline."""
    output_length_ratio: float | None
    """output_tokens_mean / baseline_output_tokens_mean."""
    output_tokens_median: float | None
    """Median output tokens of the method."""
    baseline_output_tokens_median: float
    """Median output tokens of the baseline."""


class LengthShift(_Model):
    """Distribution of the per-sample output-length change (method - baseline, in tokens)."""

    samples: int
    """Samples with a known output length."""
    mean: float
    """Mean change."""
    median: float
    """Median change."""
    p10: float
    """10th percentile."""
    p90: float
    """90th percentile."""
    longer: int
    """Samples whose output got longer."""
    shorter: int
    """Samples whose output got shorter."""
    same: int
    """Samples with the same output length."""


class DatasetRef(_Model):
    """Which dataset release the report is about."""

    location: str
    """Folder or Hub repo id given to `negsamp evaluate`."""
    name: str
    """Dataset name from its manifest."""
    dataset_version: str
    """Dataset (recipe) version."""
    content_hash: str
    """The dataset's content hash: identifies its rows exactly."""
    config: str
    """Config (model) evaluated."""


class EvaluationReport(_Model):
    """`report.json`: a method evaluated on a negative-sample dataset."""

    version: Literal[1] = REPORT_VERSION
    """Schema version of this report."""
    negsamp_version: str = __version__
    """negsamp version that wrote it."""
    dataset: DatasetRef
    """The dataset release."""
    model: str
    """Model the predictions came from (the dataset's unless `model_mismatch`)."""
    dataset_model: str
    """The dataset config's model."""
    model_mismatch: bool
    """True when the predictions come from another model than the dataset's (allowed explicitly)."""
    method: str
    """Canonical method spec, or `predictions:<file name>` for external predictions."""
    source: Literal["method", "predictions"]
    """Whether negsamp ran the method or scored predictions made elsewhere."""
    rule: MiningRule
    """The dataset's mining rule; its `t` decides recovered/retained."""
    environment: dict[str, str]
    """Python, platform and package versions of the evaluating machine."""
    overall: GroupStats
    """All samples."""
    by_category: list[GroupStats]
    """One entry per task category."""
    by_task: list[GroupStats]
    """One entry per task."""
    length_shift: LengthShift | None
    """Per-sample output-length change distribution (None when lengths are unknown)."""
    samples: list[SampleResult]
    """Every sample's result, negative split first."""
    throughput: AttachedThroughput | None = None
    """A `negsamp throughput` result for the same method, when attached (typed and versioned)."""
    estimate: dict | None = None
    """A `negsamp plan` what-if at a reference serving load (`negsamp.predict.for_report`), or None."""


class PredictionIn(_Model):
    """One line of a `--predictions` JSONL file."""

    sample_id: str
    prediction: str
    output_tokens: int | None = Field(None, ge=0)


# --------------------------------------------------------------------------- inputs


def resolve_dataset(location: str | Path) -> Path:
    """A local dataset folder, or a Hub dataset repo downloaded to the local cache."""
    from negsamp.dataset.common import local_folder_or_repo

    found = local_folder_or_repo(location)
    if isinstance(found, Path):
        return found
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(location), repo_type="dataset"))
    except Exception as err:  # network, auth, offline mode: one sentence, no traceback
        raise InputError(f"could not download dataset {location} from the Hugging Face Hub "
                         f"({type(err).__name__}); give a local folder instead") from err


def coverage_problems(sample_ids: Sequence[str], known_ids: set[str]) -> list[tuple[int | None, str]]:
    """"One prediction per dataset sample": (index of the offending entry or None, problem) for each failure.

    The one check of it, used by `evaluate --predictions` and the leaderboard:
    an id seen twice, an id not in the dataset, and every dataset sample without one.
    """
    problems: list[tuple[int | None, str]] = []
    seen: dict[str, int] = {}
    for index, sample_id in enumerate(sample_ids):
        if sample_id in seen:
            problems.append((index, f"{_short(sample_id)} appears twice (first at entry {seen[sample_id]})"))
        elif sample_id not in known_ids:
            problems.append((index, f"{_short(sample_id)} is not a sample of the dataset"))
        else:
            seen[sample_id] = index
    missing = sorted(known_ids - set(seen))
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        problems.append((None, f"no prediction for {len(missing)} of the dataset's {len(known_ids)} "
                               f"negative and control samples: {shown}"))
    return problems


def _short(text: str, limit: int = 60) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def read_predictions(path: Path, known_ids: set[str]) -> dict[str, PredictionIn]:
    """Read a predictions JSONL; every problem names the file, the line and the field."""
    from pydantic import ValidationError

    from negsamp.jsonl import iter_jsonl, read_bytes

    rows: list[PredictionIn] = []
    lines: list[int] = []
    for line_no, data in iter_jsonl(path, read_bytes(path, "predictions file")):
        if not isinstance(data, dict):
            raise InputError(f"{path}, line {line_no}: expected a JSON object, got {type(data).__name__}")
        try:
            row = PredictionIn.model_validate(data, strict=True)
        except ValidationError as err:
            raise InputError(f"{path}, line {line_no}: {first_error(err)}") from None
        lines.append(line_no)
        rows.append(row)
    for index, problem in coverage_problems([r.sample_id for r in rows], known_ids):
        where = f"{path}, line {lines[index]}: sample_id" if index is not None else f"{path}:"
        raise InputError(f"{where} {problem}")
    return {r.sample_id: r for r in rows}


def environment() -> dict[str, str]:
    from negsamp.runner import package_versions

    return {"platform": platform.platform(), "machine": platform.machine(), **package_versions()}


# --------------------------------------------------------------------------- statistics per group


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def group_stats(group: str, results: Sequence[SampleResult]) -> GroupStats:
    negatives = [r for r in results if r.split == "negative"]
    control = [r for r in results if r.split == "control"]
    recovered = sum(r.good for r in negatives)
    retained = sum(r.good for r in control)
    mean_score = statistics.fmean(r.score for r in results)
    mean_base = statistics.fmean(r.baseline_score for r in results)
    kv = [r.kv_bytes_prefill / r.baseline_kv_bytes_prefill for r in results
          if r.kv_bytes_prefill is not None and r.baseline_kv_bytes_prefill > 0]
    tokens = [r.output_tokens for r in results if r.output_tokens is not None]
    base_tokens = [r.baseline_output_tokens for r in results]
    tokens_mean = _mean(tokens) if len(tokens) == len(results) else None
    return GroupStats(
        group=group,
        negatives=len(negatives),
        recovered=recovered,
        recovery_rate=recovered / len(negatives) if negatives else None,
        control=len(control),
        control_retained=retained,
        control_retention=retained / len(control) if control else None,
        mean_score=mean_score,
        mean_baseline_score=mean_base,
        relative_score=ratio(mean_score, mean_base),
        kv_kept=_mean(kv) if len(kv) == len(results) else None,
        output_tokens_mean=tokens_mean,
        baseline_output_tokens_mean=statistics.fmean(base_tokens),
        output_length_ratio=ratio(tokens_mean, statistics.fmean(base_tokens)),
        output_tokens_median=float(statistics.median(tokens)) if tokens_mean is not None else None,
        baseline_output_tokens_median=float(statistics.median(base_tokens)),
    )


def length_shift(results: Sequence[SampleResult]) -> LengthShift | None:
    deltas = [r.output_tokens - r.baseline_output_tokens for r in results if r.output_tokens is not None]
    if len(deltas) != len(results) or not deltas:
        return None
    ordered = sorted(deltas)

    def quantile(q: float) -> float:
        # Linear interpolation between closest ranks (numpy's default method).
        pos = q * (len(ordered) - 1)
        low = math.floor(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

    return LengthShift(
        samples=len(deltas), mean=statistics.fmean(deltas), median=float(statistics.median(deltas)),
        p10=quantile(0.1), p90=quantile(0.9),
        longer=sum(d > 0 for d in deltas), shorter=sum(d < 0 for d in deltas), same=sum(d == 0 for d in deltas),
    )


CONTROL_COLLAPSE = 0.5
"""Control retention below this is flagged: the method breaks more samples than it fixes."""


def control_warning(overall: GroupStats) -> str | None:
    """A warning when control retention collapsed (below `CONTROL_COLLAPSE`), else None."""
    if overall.control_retention is None or overall.control_retention >= CONTROL_COLLAPSE:
        return None
    return (f"control retention collapsed: {overall.control_retained}/{overall.control} control samples stay "
            "good; the method breaks samples the mined methods did not")


def group_results(results: list[SampleResult]) -> tuple[GroupStats, list[GroupStats], list[GroupStats]]:
    by_task: dict[str, list[SampleResult]] = {}
    by_category: dict[str, list[SampleResult]] = {}
    for r in results:
        by_task.setdefault(r.task, []).append(r)
        by_category.setdefault(r.category, []).append(r)
    return (
        group_stats("overall", results),
        [group_stats(name, rs) for name, rs in sorted(by_category.items())],
        [group_stats(name, rs) for name, rs in sorted(by_task.items())],
    )


# --------------------------------------------------------------------------- the evaluation


class Evaluation:
    """What `evaluate` needs to know, checked before anything runs or is written."""

    def __init__(self, dataset: str | Path, *, config: str | None = None) -> None:
        from negsamp.dataset import verified_rows

        self.location = str(dataset)
        self.path = resolve_dataset(dataset)
        self.manifest, rows = verified_rows(self.path, config=config)
        if config is None:
            names = self.manifest.config_names()
            if len(names) != 1:
                raise InputError(f"{self.path} has configs {names}: choose one with --config")
            config = names[0]
        self.config = config
        self.entry = self.manifest.configs[config]
        self.rows = {split: rows[config][split] for split in ("negative", "control")}
        self.rule = self.entry.rule

    @property
    def ref(self) -> DatasetRef:
        return DatasetRef(location=self.location, name=self.manifest.name,
                          dataset_version=self.manifest.dataset_version,
                          content_hash=self.manifest.content_hash, config=self.config)

    def all_rows(self):
        return [(split, row) for split in ("negative", "control") for row in self.rows[split]]

    @property
    def rebuild_prompts(self) -> bool:
        """Whether prompts are built per model at evaluation (`negsamp import-scores` releases:
        the paper released no prompts, and its protocol truncates with the model's tokenizer)."""
        return bool(self.entry.generation.get("rebuild_prompts"))

    def samples(self, tokenizer: Any = None):
        from negsamp.records import Sample, SampleFields

        if self.rebuild_prompts:
            if tokenizer is None:
                raise InputError(f"{self.path}: its prompts are built per model; a tokenizer is needed")
            return [self.rebuilt_sample(row, tokenizer) for _, row in self.all_rows()]
        fields = set(SampleFields.model_fields)
        return [Sample(**{k: getattr(row, k) for k in fields}) for _, row in self.all_rows()]

    def rebuilt_sample(self, row, tokenizer: Any):
        """The row's sample with its prompt built under the config's protocol for `tokenizer`."""
        from negsamp.records import Sample, SampleFields
        from negsamp.tasks import get_task
        from negsamp.tasks.longbench_prompts import build_prompt

        generation = self.entry.generation
        built = build_prompt(get_task(row.task), row.context, row.input, tokenizer=tokenizer,
                             max_length=int(generation["max_length"]), protocol=str(generation["protocol"]),
                             answers=row.answers)
        fields = {k: getattr(row, k) for k in SampleFields.model_fields}
        fields.update(prompt=built.prompt, question_start=built.question_start, max_new_tokens=built.max_new_tokens,
                      chat_template=built.chat_template)
        return Sample(**fields, protocol=generation["protocol"], stop_texts=list(built.stop_texts),
                      min_new_tokens=built.min_new_tokens)

    def score(self, predictions: dict[str, tuple[str, int | None, int | None]]) -> list[SampleResult]:
        """predictions: sample_id -> (text, output_tokens, kv_bytes_prefill)."""
        from negsamp.metrics import score

        results = []
        for split, row in self.all_rows():
            text, tokens, kv = predictions[row.sample_id]
            o = float(score(row.task, text, row.answers, row.all_classes))
            b = float(row.baseline.score)
            results.append(SampleResult(
                sample_id=row.sample_id, split=split, task=row.task, category=row.category,
                baseline_score=b, score=o, good=not self.rule.is_negative(b, o), prediction=text,
                output_tokens=tokens, baseline_output_tokens=row.baseline.output_tokens,
                kv_bytes_prefill=kv, baseline_kv_bytes_prefill=row.baseline.kv_bytes_prefill,
            ))
        return results

    def report(self, results: list[SampleResult], *, model: str, method: str,
               source: Literal["method", "predictions"]) -> EvaluationReport:
        from negsamp.predict.for_report import report_estimate

        overall, by_category, by_task = group_results(results)
        estimate = report_estimate(model, method, source, overall.output_length_ratio,
                                   overall.baseline_output_tokens_mean)
        return EvaluationReport(
            dataset=self.ref, model=model, dataset_model=self.entry.model,
            model_mismatch=model != self.entry.model, method=method, source=source, rule=self.rule,
            environment=environment(), overall=overall, by_category=by_category, by_task=by_task,
            # A scores-only release has no baseline outputs to compare lengths with.
            length_shift=None if self.rebuild_prompts else length_shift(results), samples=results,
            estimate=estimate,
        )


def check_model(dataset_model: str, model: str | None, allow_mismatch: bool) -> str:
    if model is None or model == dataset_model:
        return dataset_model
    if not allow_mismatch:
        raise InputError(f"the dataset's model is {dataset_model!r}, not {model!r}: negatives are specific "
                         "to a model; pass --allow-model-mismatch to evaluate anyway (the report says so)")
    return model


def evaluate_method(
    dataset: str | Path, method_spec: str, out_dir: str | Path, *, config: str | None = None,
    model: str | None = None, allow_model_mismatch: bool = False, batch_size: int | None = None,
    progress: bool = True, device: str = "auto", dtype: str = "auto",
) -> EvaluationReport:
    """Run a method over the dataset's negative and control samples and report.

    `device`, `dtype`: where and in what precision to run (`negsamp.models.resolve_device`);
    checked before the dataset is read or a model loaded."""
    from negsamp.methods import parse_method
    from negsamp.runner import ModelPool

    method = parse_method(method_spec)
    ModelPool("", device=device, dtype=dtype)  # a missing GPU fails here, before anything loads
    evaluation = Evaluation(dataset, config=config)
    model_name = check_model(evaluation.entry.model, model, allow_model_mismatch)
    from negsamp.runner import run_method
    from negsamp.runs import RunStore

    size = batch_size or int(evaluation.entry.generation.get("batch_size") or 4)
    tokenizer = None
    if evaluation.rebuild_prompts:
        from negsamp.models import load_tokenizer

        tokenizer = load_tokenizer(model_name)
    result = run_method(RunStore(Path(out_dir) / "runs"), model_name, method, evaluation.samples(tokenizer),
                        batch_size=size, progress=progress, pool=ModelPool(model_name, device=device, dtype=dtype))
    predictions = {p.sample_id: (p.prediction, p.output_tokens, p.kv_bytes_prefill) for p in result.predictions}
    return evaluation.report(evaluation.score(predictions), model=model_name, method=method.spec,
                             source="method")


def evaluate_predictions(
    dataset: str | Path, predictions_file: str | Path, *, config: str | None = None,
    model: str | None = None, allow_model_mismatch: bool = False,
) -> EvaluationReport:
    """Score predictions made elsewhere (any framework) on the dataset and report."""
    evaluation = Evaluation(dataset, config=config)
    model_name = check_model(evaluation.entry.model, model, allow_model_mismatch)
    ids = {row.sample_id for _, row in evaluation.all_rows()}
    rows = read_predictions(Path(predictions_file), ids)
    predictions = {sid: (r.prediction, r.output_tokens, None) for sid, r in rows.items()}
    return evaluation.report(evaluation.score(predictions), model=model_name,
                             method=f"predictions:{Path(predictions_file).name}", source="predictions")
