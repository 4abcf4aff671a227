"""What the builder tells `write_dataset` about one config beyond its rows (`CardContext`).

`TaskSummary` and `LengthSummary` are pool-wide numbers shown in the card.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from negsamp.dataset.common import Finite, NonNegInt
from negsamp.mining import MiningRule


class TaskSummary(BaseModel):
    """Numbers about one task over the whole sample pool the build ran (not just the splits)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    task: str
    """Task name."""
    category: str
    """Task category (QA, Summarization, Few-shot, Synthetic, Code)."""
    samples: NonNegInt
    """Samples of this task in the pool (all run with the baseline and every method)."""
    baseline_accuracy: Finite
    """Mean baseline per-sample score over the pool (metric scale, 0 to 1)."""
    threshold: Finite
    """THR: the median or mean of the task's baseline scores (see the rule)."""
    baseline_good: NonNegInt
    """Samples with `b >= THR` (and `b >= min_baseline` when set)."""
    negatives_by_method: dict[str, NonNegInt]
    """Per compared method: baseline-good samples negative for that method alone."""


class LengthSummary(BaseModel):
    """Output-length statistics of one method over the whole pool."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    method: str
    """The baseline method or a compared method."""
    samples: NonNegInt
    """Samples the statistics are over."""
    mean_output_tokens: Finite
    """Mean generated tokens."""
    median_output_tokens: Finite
    """Median generated tokens."""
    eos_rate: Finite | None = None
    """Fraction of samples that stopped at end-of-sequence (else at max_new_tokens)."""


class CardContext(BaseModel):
    """What the builder knows about one config (one model) that the rows alone do not tell.

    `write_dataset` checks the rows against it (methods, thresholds, the rule) and
    renders the card from it plus counts it computes from the rows. It is stored in
    the manifest, so writing a second config re-renders the card with both.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: str
    """Model name or Hub id, as given to `negsamp.models.load_model`."""
    methods: list[str] = Field(min_length=1)
    """Compared (compressed) method specs, in recipe order: the order of the `methods` column."""
    rule: MiningRule
    """The mining rule (baseline method name, statistic, t, mode, min_baseline)."""
    generation: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    """Generation settings shown in the card, e.g. backend, decoding ("greedy"), dtype, batch_size."""
    sample_pool: str
    """One sentence naming where the samples came from, e.g. "synthetic tasks, seed 0, 16 per task"."""
    tasks: list[TaskSummary] = Field(min_length=1)
    """One entry per task of the pool."""
    output_lengths: list[LengthSummary] = Field(default_factory=list)
    """Pool-wide output lengths: the baseline first, then each compared method."""
    summary: str | None = None
    """Optional paragraph about this build, shown at the top of the config's section."""
    notes: list[str] = Field(default_factory=list)
    """Extra remarks or limitations (e.g. mining warnings), one sentence each."""
    languages: list[str] = Field(default_factory=lambda: ["en"])
    """Language codes of the samples, for the card's header."""

    @model_validator(mode="after")
    def _consistent(self) -> CardContext:
        if len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods {self.methods} name a method twice")
        if self.rule.baseline in self.methods:
            raise ValueError(f"the baseline {self.rule.baseline!r} is also listed as a compared method")
        names = [t.task for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"tasks {names} name a task twice")
        for task in self.tasks:
            if set(task.negatives_by_method) != set(self.methods):
                raise ValueError(
                    f"task {task.task!r}: negatives_by_method has {sorted(task.negatives_by_method)}, "
                    f"expected one count per method {self.methods}"
                )
        known = {self.rule.baseline, *self.methods}
        for entry in self.output_lengths:
            if entry.method not in known:
                raise ValueError(f"output_lengths: unknown method {entry.method!r}; known: {sorted(known)}")
        return self

    def task(self, name: str) -> TaskSummary | None:
        return next((t for t in self.tasks if t.task == name), None)

    @property
    def thresholds(self) -> dict[str, float]:
        """Per-task THR."""
        return {t.task: t.threshold for t in self.tasks}
