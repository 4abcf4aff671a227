"""The one score-table builder: predictions + answers -> per-sample LongBench scores.

Every score table negsamp writes (`negsamp score`, a dataset build) comes from
`score_records`: one row per prediction with `sample_id`, `task`, `prediction`,
`answers`, `all_classes`, any scalar fields the prediction carried (model,
method, output_tokens, ...) and `score`, the task's metric in [0, 1]
(`negsamp.metrics.score`). `negsamp.mining` reads the `task`, `sample_id`,
`method` and `score` columns.

Records come from two places: a self-contained predictions JSONL (each line has
its answers, `read_prediction_file`), or a run store, whose predictions hold no
answers: those are joined with the samples the store recorded when the run was
asked for (`run_store_records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from negsamp.errors import InputError, NegsampError, UnknownNameError

if TYPE_CHECKING:
    import polars as pl

    from negsamp.records import Prediction, Sample

REQUIRED_FIELDS = ("sample_id", "task", "prediction", "answers")
OPTIONAL_FIELDS = ("all_classes",)
WHERE = "_where"
"""Key of a record's location ("FILE, line N"), used in error messages and never written."""
# Prediction fields not carried into a score table: the row's schema version and timings
# shared by a batch say nothing about a sample's score.
_NOT_CARRIED = {"version", "sample_id", "task", "prediction", "prefill_s", "decode_s", "batch_note"}


def _type_name(value) -> str:
    return "null" if value is None else type(value).__name__


def _is_string_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _describe(value) -> str:
    if isinstance(value, list):
        bad = next((item for item in value if not isinstance(item, str)), None)
        return f"a list holding {_type_name(bad)} {bad!r}"
    return _type_name(value)


def check_record(record, where: str) -> dict:
    """One predictions-file line, checked; every error names `where` and the field."""
    from negsamp.tasks import get_task

    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {_type_name(record)}")
    for field in REQUIRED_FIELDS:
        if field not in record:
            raise InputError(f"{where}: missing field {field!r}")
    for field in ("sample_id", "task", "prediction"):
        if not isinstance(record[field], str):
            raise InputError(f"{where}: field {field!r} must be a string, got {_type_name(record[field])}")
    if not _is_string_list(record["answers"]):
        raise InputError(f"{where}: field 'answers' must be a list of strings, got {_describe(record['answers'])}")
    record.setdefault("all_classes", None)
    if record["all_classes"] is not None and not _is_string_list(record["all_classes"]):
        raise InputError(f"{where}: field 'all_classes' must be a list of strings or null, "
                         f"got {_describe(record['all_classes'])}")
    try:
        get_task(record["task"])
    except UnknownNameError as err:
        raise InputError(f"{where}: field 'task': {err}") from None
    for field, value in record.items():
        if field not in REQUIRED_FIELDS + OPTIONAL_FIELDS and isinstance(value, dict | list):
            raise InputError(f"{where}: extra field {field!r} must be a scalar to be carried over, "
                             f"got {_type_name(value)}")
    if "score" in record:  # the computed column would silently replace the user's
        raise InputError(f"{where}: field 'score' is the column negsamp writes; rename yours")
    record[WHERE] = where
    return record


def read_prediction_file(path: Path) -> list[dict]:
    """A self-contained predictions JSONL (sample_id, task, prediction, answers[, all_classes], scalars)."""
    from negsamp.jsonl import iter_jsonl, read_bytes

    data = read_bytes(path, "predictions file")
    records = [check_record(record, f"{path}, line {lineno}") for lineno, record in iter_jsonl(path, data)]
    if not records:
        raise InputError(f"{path}: no predictions (the file has no JSON lines)")
    return records


def prediction_records(samples: Mapping[str, Sample], predictions: Iterable[Prediction],
                       where: str) -> list[dict]:
    """Records for predictions whose answers live in `samples` (by sample id)."""
    records = []
    for index, pred in enumerate(predictions, start=1):
        sample = samples.get(pred.sample_id)
        if sample is None:
            raise InputError(f"{where}, row {index}: sample {pred.sample_id} is not among the recorded samples")
        extras = {k: v for k, v in pred.model_dump().items() if k not in _NOT_CARRIED}
        records.append({"sample_id": pred.sample_id, "task": pred.task, "prediction": pred.prediction,
                        "answers": list(sample.answers), "all_classes": sample.all_classes, **extras,
                        WHERE: f"{where}, row {index}"})
    return records


def run_store_records(path: Path) -> list[dict]:
    """Records for every run under `path`: a run store folder, a run folder or its predictions.jsonl."""
    from negsamp.runs import find_runs

    store, runs = find_runs(path)
    models = sorted({run.model for run in runs})
    if len(models) > 1:
        raise InputError(f"{path}: runs of several models ({', '.join(models)}); "
                         "score one model's run folders at a time")
    records: list[dict] = []
    for run in runs:
        samples = store.recorded_samples(run)
        records.extend(prediction_records(samples, run.predictions(), str(run.predictions_path)))
    if not records:
        raise InputError(f"{path}: the run store holds no predictions yet")
    return records


def score_records(records: Sequence[dict]) -> pl.DataFrame:
    """The score table of checked records (see the module docstring for its columns)."""
    import polars as pl

    from negsamp.metrics import score

    scores = []
    for record in records:
        try:
            scores.append(score(record["task"], record["prediction"], record["answers"], record["all_classes"]))
        except NegsampError as err:
            raise InputError(f"{record[WHERE]}: {err}") from None
    columns = {
        "sample_id": pl.Series([r["sample_id"] for r in records], dtype=pl.String),
        "task": pl.Series([r["task"] for r in records], dtype=pl.String),
        "prediction": pl.Series([r["prediction"] for r in records], dtype=pl.String),
        "answers": pl.Series([r["answers"] for r in records], dtype=pl.List(pl.String)),
        "all_classes": pl.Series([r["all_classes"] for r in records], dtype=pl.List(pl.String)),
    }
    extras = [k for k in dict.fromkeys(k for r in records for k in r) if k not in columns and k != WHERE]
    for field in extras:
        columns[field] = _extra_column(field, [r.get(field) for r in records], records)
    columns["score"] = pl.Series(scores, dtype=pl.Float64)
    return pl.DataFrame(columns)


def _extra_column(field: str, values: list, records: Sequence[dict]):
    import polars as pl

    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pl.Series(field, values, dtype=pl.Float64 if any(isinstance(v, float) for v in present) else pl.Int64)
    try:
        return pl.Series(field, values, strict=True)
    except (TypeError, pl.exceptions.PolarsError):
        source = records[0][WHERE].split(", line ")[0].split(", row ")[0]
        raise InputError(f"{source}: field {field!r} holds values of different types on different lines") from None


def score_table(samples: Sequence[Sample], predictions: Mapping[str, Sequence[Prediction]]) -> pl.DataFrame:
    """Score table of a build: every method's predictions, in sample order, against the samples."""
    by_id = {s.sample_id: s for s in samples}
    records: list[dict] = []
    for method, preds in predictions.items():
        records.extend(prediction_records(by_id, preds, f"run {method}"))
    return score_records(records)
