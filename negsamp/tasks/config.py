"""`TaskConfig`: everything negsamp knows about one task, in one object.

One config per task says how it is *asked* (prompt template, generation budget, whether
the model's chat template wraps the prompt) and how it is *scored* (metric name in
`negsamp.metrics.METRICS`, LongBench's first-line rule) and grouped (category, language).
The LongBench loader, the synthetic families, the registry and the scorer all read these
objects; there is no second table. The tables themselves are `negsamp.tasks.longbench_table`
and `negsamp.tasks.synthetic`; `negsamp.tasks.registry` assembles them.

This module imports nothing else from negsamp.tasks (so nothing can import back into it).
"""

from __future__ import annotations

from dataclasses import dataclass

# The paper's (and LongBench's) task categories.
CATEGORIES = ("QA", "Summarization", "Few-shot", "Synthetic", "Code")


@dataclass(frozen=True)
class TaskConfig:
    """One task: prompt, budget, metric, category, language."""

    name: str
    """Task name (LongBench's dataset name, e.g. `hotpotqa`, or a synthetic family)."""
    metric: str
    """Metric name in `negsamp.metrics.METRICS`."""
    category: str
    """Task category, one of `CATEGORIES`."""
    language: str
    """`en` or `zh` (LongBench's `language`)."""
    prompt_template: str = "{context}\n\n{input}"
    """Python `str.format` template of the whole prompt, with `{context}` and (usually)
    `{input}`. The default suits tasks registered only to be scored."""
    max_new_tokens: int = 32
    """Generation budget per sample (LongBench's dataset2maxlen)."""
    chat_template: bool = False
    """Whether the model's chat template wraps the prompt under LongBench's pred.py (all but
    its six completion-style tasks; synthetic families: no, see docs/tasks.md)."""
    first_line: bool = False
    """Score only the first line of the prediction (after leading newlines), as LongBench's
    eval.py does for trec, triviaqa, samsum and lsht, whose models continue the few-shot
    pattern on later lines."""

    def __post_init__(self) -> None:
        for field in ("name", "metric", "category", "language", "prompt_template"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TaskConfig.{field} must be a non-empty string, got {value!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"TaskConfig.category must be one of {CATEGORIES}, got {self.category!r}")
        if "{context}" not in self.prompt_template:
            raise ValueError(f"TaskConfig {self.name!r}: prompt_template has no {{context}} field")
        if not isinstance(self.max_new_tokens, int) or isinstance(self.max_new_tokens, bool) \
                or self.max_new_tokens < 1:
            raise ValueError(f"TaskConfig.max_new_tokens must be a positive int, got {self.max_new_tokens!r}")
        for field in ("chat_template", "first_line"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"TaskConfig.{field} must be a bool, got {getattr(self, field)!r}")

    def split_template(self) -> tuple[str, str]:
        """The template's text before `{context}` and after it (both still templates)."""
        head, _, tail = self.prompt_template.partition("{context}")
        return head, tail


def locate_in_wrapped(wrapped: str, plain: str, offset: int) -> int:
    """Map character `offset` of `plain` to `wrapped`, a chat-template rendering that contains
    `plain` verbatim or stripped of outer whitespace (templates such as Llama 3's trim it)."""
    position = wrapped.find(plain)
    if position >= 0:
        return position + offset
    stripped = plain.strip()
    position = wrapped.find(stripped) if stripped else -1
    if position < 0:
        raise ValueError("the chat template changed the prompt text, so the question's position in it is unknown")
    lead = len(plain) - len(plain.lstrip())
    return position + min(max(offset - lead, 0), len(stripped))
