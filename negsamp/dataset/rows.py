"""One sample of the dataset (`DatasetRow`), its parquet schema and its content hash.

`Outcome` / `MethodOutcome` are the `baseline` column and the entries of the
`methods` column; `ROW_SCHEMA` is the exact parquet schema of both splits;
`canonical_row` / `split_hash` define the hash that identifies the data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from negsamp.dataset.common import Finite, NonNegInt
from negsamp.records import Prediction, Sample, SampleFields


class Outcome(BaseModel):
    """What one method produced on the sample, and its score (the `baseline` column)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    method: str
    """Canonical method spec, e.g. `none` or `snapkv:ratio=0.5,window=8`."""
    prediction: str
    """Decoded output text."""
    score: Finite
    """Per-sample task score (LongBench-compatible metric, 0 to 1)."""
    output_tokens: NonNegInt
    """Generated tokens, EOS included when it was produced."""
    hit_eos: bool
    """Whether generation stopped at end-of-sequence (else at max_new_tokens)."""
    prompt_tokens: NonNegInt
    """Tokens in the prompt."""
    kv_bytes_prefill: NonNegInt
    """Bytes held by the KV cache right after prefill, measured from its tensors."""
    kv_bytes_end: NonNegInt
    """Bytes held by the KV cache at the end of generation, measured from its tensors."""

    @classmethod
    def from_prediction(cls, prediction: Prediction, score: float, **extra: Any) -> Outcome:
        """The outcome of one `Prediction`, scored."""
        return cls(
            method=prediction.method,
            prediction=prediction.prediction,
            score=score,
            output_tokens=prediction.output_tokens,
            hit_eos=prediction.hit_eos,
            prompt_tokens=prediction.prompt_tokens,
            kv_bytes_prefill=prediction.kv_bytes_prefill,
            kv_bytes_end=prediction.kv_bytes_end,
            **extra,
        )


class MethodOutcome(Outcome):
    """A compressed method's outcome on the sample (one entry of the `methods` column)."""

    negative: bool
    """Whether the sample is negative for this method: `not (b * (1 - t) < o)` with b the
    baseline score and o this method's score, in float64."""

    @classmethod
    def from_prediction(cls, prediction: Prediction, score: float, *, negative: bool) -> MethodOutcome:  # type: ignore[override]
        """The outcome of one compressed-method `Prediction`, scored and flagged."""
        return super().from_prediction(prediction, score, negative=negative)  # type: ignore[return-value]


class DatasetRow(SampleFields):
    """One sample of the dataset: the sample's fields (`SampleFields`), the baseline's
    outcome and every compared method's.

    Version `ROW_VERSION`, recorded in the manifest and in each parquet file's metadata
    (not as a column). `ROW_SCHEMA` is its exact parquet schema.
    """

    threshold: Finite
    """The task's baseline threshold THR (median or mean of its baseline scores)."""
    baseline: Outcome
    """The uncompressed model's outcome."""
    methods: list[MethodOutcome]
    """One entry per compressed method the dataset was mined with, in recipe order."""

    @classmethod
    def from_sample(
        cls, sample: Sample, *, threshold: float, baseline: Outcome, methods: Sequence[MethodOutcome]
    ) -> DatasetRow:
        """A row from a `Sample` plus the outcomes (the builder's usual path)."""
        return cls(**sample.dataset_fields(), threshold=threshold, baseline=baseline, methods=list(methods))

    @property
    def key(self) -> tuple[str, str]:
        """Sort key of rows in a split."""
        return (self.task, self.sample_id)


def _outcome_fields(negative: bool) -> list[pa.Field]:
    fields = [
        pa.field("method", pa.string()),
        pa.field("prediction", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("output_tokens", pa.int64()),
        pa.field("hit_eos", pa.bool_()),
        pa.field("prompt_tokens", pa.int64()),
        pa.field("kv_bytes_prefill", pa.int64()),
        pa.field("kv_bytes_end", pa.int64()),
    ]
    if negative:
        fields.append(pa.field("negative", pa.bool_()))
    return fields


ROW_SCHEMA = pa.schema(
    [
        pa.field("sample_id", pa.string()),
        pa.field("task", pa.string()),
        pa.field("category", pa.string()),
        pa.field("source", pa.string()),
        pa.field("source_index", pa.int64()),
        pa.field("context", pa.string()),
        pa.field("input", pa.string()),
        pa.field("answers", pa.list_(pa.string())),
        pa.field("all_classes", pa.list_(pa.string())),
        pa.field("length", pa.int64()),
        pa.field("prompt", pa.string()),
        pa.field("question_start", pa.int64()),
        pa.field("max_new_tokens", pa.int64()),
        pa.field("chat_template", pa.bool_()),
        pa.field("threshold", pa.float64()),
        pa.field("baseline", pa.struct(_outcome_fields(negative=False))),
        pa.field("methods", pa.list_(pa.struct(_outcome_fields(negative=True)))),
    ]
)
"""The exact parquet schema of both splits (field order = `DatasetRow` field order)."""


def canonical_row(config: str, split: str, row: DatasetRow) -> str:
    """The canonical text of one row, as hashed into `Manifest.content_hash`.

    One line of JSON: `{"config": ..., "row": {...}, "split": ...}` with sorted keys,
    no whitespace, UTF-8 kept as is (ensure_ascii off), floats in Python's shortest
    round-trip form, NaN refused. Rows are hashed in (task, sample_id) order.
    """
    payload = {"config": config, "split": split, "row": row.model_dump(mode="json")}
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def split_hash(config: str, split: str, rows: Iterable[DatasetRow]) -> str:
    """sha256 over the canonical lines of a split's rows, sorted by (task, sample_id)."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.key):
        digest.update((canonical_row(config, split, row) + "\n").encode("utf-8"))
    return digest.hexdigest()

