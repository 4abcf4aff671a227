"""Leaderboard submissions: an evaluation report plus the per-sample predictions it came from.

The leaderboard recomputes every figure from `predictions`; the report's numbers
are the submitter's claims and are only compared against the recomputation.
"""

from __future__ import annotations

import datetime as _dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from negsamp.evaluator import EvaluationReport

SUBMISSION_VERSION = 1


class SubmittedPrediction(BaseModel):
    """One sample's output."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    sample_id: str
    """Dataset sample id."""
    prediction: str
    """Output text."""
    output_tokens: int | None = Field(None, ge=0)
    """Output tokens, when known."""
    kv_bytes_prefill: int | None = Field(None, ge=0)
    """KV bytes after prefill as measured by negsamp, when it ran the method."""


class Submission(BaseModel):
    """A leaderboard submission file (`negsamp evaluate --submission FILE`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    version: Literal[1] = SUBMISSION_VERSION
    """Schema version."""
    name: str = Field(min_length=1, max_length=200)
    """Display name of the method."""
    paper_url: str | None = Field(None, max_length=500)
    """Link to the method's paper or code."""
    submitted: str
    """Date of the submission (ISO 8601, YYYY-MM-DD)."""
    report: EvaluationReport
    """The submitter's evaluation report (per-sample results left out; they are in `predictions`)."""
    predictions: list[SubmittedPrediction]
    """One entry per negative and control sample of the dataset."""


def make_submission(report: EvaluationReport, *, name: str | None = None, paper_url: str | None = None,
                    date: _dt.date | None = None) -> Submission:
    predictions = [
        SubmittedPrediction(sample_id=s.sample_id, prediction=s.prediction, output_tokens=s.output_tokens,
                            kv_bytes_prefill=s.kv_bytes_prefill)
        for s in report.samples
    ]
    return Submission(
        name=name or report.method, paper_url=paper_url,
        submitted=(date or _dt.date.today()).isoformat(),
        report=report.model_copy(update={"samples": []}), predictions=predictions,
    )
