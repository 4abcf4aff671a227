"""Prompt-side task specs: how a task's samples are asked.

`negsamp.tasks.registry` says how a task is *scored* (metric, category, language);
a `TaskSpec` says how it is *asked*: the prompt template, the generation budget
and whether the model's chat template wraps the prompt. Task sources
(`negsamp.tasks.longbench`, `negsamp.tasks.synthetic`) register one spec per task
and build their `Sample`s from it.

This module imports no model code.
"""

from __future__ import annotations

from dataclasses import dataclass

from negsamp.errors import UnknownNameError
from negsamp.tasks.registry import CATEGORIES


@dataclass(frozen=True)
class TaskSpec:
    """How one task's prompts are built."""

    name: str
    """Task name, as registered in `negsamp.tasks.registry`."""
    prompt_template: str
    """Python `str.format` template of the whole prompt, with `{context}` and (usually) `{input}`."""
    max_new_tokens: int
    """Generation budget per sample."""
    chat_template: bool
    """Whether the model's chat template wraps the prompt (LongBench: all but pred.py's six
    completion-style tasks; synthetic families: no, see docs/tasks.md)."""
    metric: str
    """Metric name in `negsamp.metrics.METRICS` (the same as the registry's)."""
    category: str
    """Task category (one of `negsamp.tasks.registry.CATEGORIES`)."""

    def __post_init__(self) -> None:
        for field in ("name", "prompt_template", "metric", "category"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"TaskSpec.{field} must be a non-empty string, got {value!r}")
        if "{context}" not in self.prompt_template:
            raise ValueError(f"TaskSpec {self.name!r}: prompt_template has no {{context}} field")
        if not isinstance(self.max_new_tokens, int) or isinstance(self.max_new_tokens, bool) \
                or self.max_new_tokens < 1:
            raise ValueError(f"TaskSpec.max_new_tokens must be a positive int, got {self.max_new_tokens!r}")
        if not isinstance(self.chat_template, bool):
            raise ValueError(f"TaskSpec.chat_template must be a bool, got {self.chat_template!r}")
        if self.category not in CATEGORIES:
            raise ValueError(f"TaskSpec.category must be one of {CATEGORIES}, got {self.category!r}")

    def split_template(self) -> tuple[str, str]:
        """The template's text before `{context}` and after it (both still templates)."""
        head, _, tail = self.prompt_template.partition("{context}")
        return head, tail


_SPECS: dict[str, TaskSpec] = {}


def register_spec(spec: TaskSpec) -> TaskSpec:
    """Add a spec. The same spec twice is a no-op; a different one under a known name is refused."""
    if not isinstance(spec, TaskSpec):
        raise TypeError(f"register_spec expects a TaskSpec, got {type(spec).__name__}")
    old = _SPECS.get(spec.name)
    if old is not None and old != spec:
        raise ValueError(f"a different spec for task {spec.name!r} is already registered: {old}")
    _SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> TaskSpec:
    """The spec of task `name`; UnknownNameError lists the known ones."""
    _load_builtin_specs()
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"no prompt spec for task {name!r}; tasks with one: {', '.join(known_specs())}"
        ) from None


def known_specs() -> list[str]:
    """Names of all tasks with a prompt spec, sorted."""
    _load_builtin_specs()
    return sorted(_SPECS)


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


def _load_builtin_specs() -> None:
    # The built-in sources register their specs on import; importing them here keeps
    # `get_spec("hotpotqa")` working whichever module the caller imported first.
    import negsamp.tasks.longbench  # noqa: F401
    import negsamp.tasks.synthetic  # noqa: F401
