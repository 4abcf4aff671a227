"""Typed, versioned records that flow between stages (docs/architecture.md, "Records").

Every arrow in the data flow is a file of these records (JSONL or parquet), so a
stage can be re-run, resumed or replaced alone. Each record carries a `version`;
readers refuse a version they do not know instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SAMPLE_VERSION = 1
PREDICTION_VERSION = 1


def content_id(*parts: object, length: int = 16) -> str:
    """A stable id derived from content: the same inputs give the same id on any machine."""
    payload = json.dumps(parts, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


class SampleFields(BaseModel):
    """The fields of a task instance, shared by `Sample` and the dataset's rows."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    sample_id: str
    """Stable, content-derived id: the same task, source and content give the same id."""
    task: str
    """Task name, as known to `negsamp.tasks.get_task`."""
    category: str
    """Task category as the paper groups them (QA, Summarization, Few-shot, Synthetic, Code)."""
    source: str
    """Where the sample came from, e.g. `synthetic:passkey:seed=0,...` or `longbench:local:/path/file.jsonl`."""
    source_index: int
    """Position of the sample in its source."""
    context: str
    """The long context (document, filler with needles, code...)."""
    input: str
    """The question or instruction about the context."""
    answers: list[str]
    """Ground-truth answers; the score is the max over them."""
    all_classes: list[str] | None = None
    """Label set for classification tasks (trec, lsht), else None."""
    length: int
    """Context length: LongBench's word count for LongBench, prompt tokens for synthetic samples."""
    prompt: str
    """The exact text fed to the tokenizer (chat template already applied when the task uses it)."""
    question_start: int
    """Character offset in `prompt` where the part after the context begins. Methods that
    compress the context only prefill `prompt[:question_start]` under compression, then
    the rest uncompressed."""
    max_new_tokens: int
    """Generation budget for this sample."""
    chat_template: bool
    """Whether `prompt` was built with the model's chat template."""


class Sample(SampleFields):
    """One task instance, with the exact prompt text given to the model."""

    version: Literal[1] = SAMPLE_VERSION
    """Schema version of this record."""
    protocol: Literal["longbench", "rethink"] = "longbench"
    """How a LongBench prompt was built: `longbench` (LongBench's pred.py) or `rethink` (the
    paper's evaluator); synthetic samples keep the default. Not a dataset column: a dataset
    states its protocol in its card."""
    stop_texts: list[str] = []
    """Texts whose last token also ends generation, besides end-of-sequence (the paper's
    evaluator stops samsum at "\n")."""
    min_new_tokens: int = 0
    """Tokens to generate before an end token may stop generation (the reference's `min_length`)."""

    def dataset_fields(self) -> dict:
        """The fields a dataset row carries (`SampleFields`)."""
        return self.model_dump(include=set(SampleFields.model_fields))


class Prediction(BaseModel):
    """What one (sample, model, method) run produced and what it cost."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = PREDICTION_VERSION
    """Schema version of this record."""
    sample_id: str
    """The `Sample.sample_id` this prediction answers."""
    task: str
    """Task of the sample (denormalised so a score table needs no join)."""
    model: str
    """Model name as given to `negsamp.models.load_model`."""
    method: str
    """Canonical method spec, e.g. `snapkv:ratio=0.5,window=8` or `none`."""
    prediction: str
    """Decoded output text (special tokens skipped)."""
    output_tokens: int
    """Number of generated tokens, EOS included when it was produced."""
    hit_eos: bool
    """Whether generation stopped at an end-of-sequence token (else at max_new_tokens)."""
    prompt_tokens: int
    """Tokens in the prompt."""
    kv_bytes_prefill: int = Field(ge=0)
    """Bytes held by the KV cache's tensors right after prefill, measured from the tensors."""
    kv_bytes_end: int = Field(ge=0)
    """Bytes held by the KV cache's tensors at the end of generation, measured from the tensors."""
    prefill_s: float = Field(ge=0, allow_inf_nan=False)
    """Wall seconds of the prefill (for a batch: the batch's prefill, shared by its samples)."""
    decode_s: float = Field(ge=0, allow_inf_nan=False)
    """Wall seconds of decoding (for a batch: the batch's, shared by its samples)."""
    batch_size: int = 1
    """How many samples were generated together."""
    batch_note: str | None = None
    """Why the sample ran alone although batching was asked for, if it did."""
